using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Transforms;
using static TorchSharp.torch;

namespace Pipeline.Vision.Data;

/// <summary>Decodes a classification dataset's images into the <see cref="TensorDataset"/> the training loop batches from.</summary>
public static class DatasetTensors
{
    /// <summary>
    /// The items of <paramref name="split"/> decoded as <paramref name="mode"/> (Gray gives 1 channel, Rgb 3) and resized
    /// (antialiased) to <paramref name="height"/> x <paramref name="width"/>: a (N, C, H, W) uint8 set with the dataset's classes.
    /// A file that does not decode throws naming it (validate first to skip such items).
    /// </summary>
    public static TensorDataset ToTensorDataset(Dataset dataset, IFileSource source, DatasetSplit split, int height, int width,
        ColorMode mode = ColorMode.Rgb, ImageDecoder? decoder = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(source);
        if (dataset.Task != TaskKind.Classify) throw new ArgumentException("a tensor dataset holds classification data", nameof(dataset));
        if (mode is not (ColorMode.Gray or ColorMode.Rgb)) throw new ArgumentException("mode must be Gray or Rgb", nameof(mode));
        decoder = new ImageDecoder { MaxPixels = (decoder ?? ImageDecoder.Default).MaxPixels, Mode = mode };
        var items = dataset.InSplit(split).ToList();
        var channels = mode == ColorMode.Gray ? 1 : 3;
        var pixels = new byte[(long)items.Count * channels * height * width];
        var plane = channels * height * width;
        // Decoding is the cost and needs no torch: decode in parallel, resize each image through the engine.
        ParallelItems.For(items.Count, k =>
        {
            var image = items[k].Pixels ?? decoder.Decode(source.ReadAllBytes(items[k].Path), source.Describe(items[k].Path));
            using var scope = NewDisposeScope();
            ToImageTensor(image, channels, height, width).CopyTo(pixels.AsSpan(k * plane, plane));
        });
        using var outer = NewDisposeScope();
        var images = tensor(pixels, [items.Count, channels, height, width]);
        var labels = tensor(items.Select(i => (long)(i.Label ?? throw new InvalidDataException($"{i.Path}: no class label"))).ToArray());
        return new TensorDataset(images, labels, dataset.Classes);
    }

    /// <summary>
    /// One image as a training set holds it: <paramref name="channels"/> (1 gray, 3 RGB) and resized (antialiased) to
    /// <paramref name="height"/> x <paramref name="width"/>, a contiguous uint8 (C, H, W) tensor in the current dispose scope.
    /// Prediction prepares its input through here too, so that a model sees what it was trained on.
    /// </summary>
    public static Tensor ToImageTensor(ImageBuffer image, int channels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (channels is not (1 or 3)) throw new ArgumentException("channels must be 1 or 3", nameof(channels));
        var chw = Convert(image, channels).ToTensor();
        var sized = chw.shape[1] == height && chw.shape[2] == width ? chw : ImageOps.Resize(chw, height, width);
        return sized.contiguous();
    }

    // Inline pixels (IDX) come in their own channel count; decoded files may be gray, RGB or RGBA (alpha dropped).
    internal static ImageBuffer Convert(ImageBuffer image, int channels)
    {
        if (image.Channels == channels) return image;
        var n = image.Width * image.Height;
        var output = new byte[n * channels];
        var c = image.Channels;
        for (var p = 0; p < n; p++)
        {
            if (c < 3) // gray, or gray with alpha
            {
                if (channels == 3) output[3 * p] = output[3 * p + 1] = output[3 * p + 2] = image.Pixels[p * c];
                else output[p] = image.Pixels[p * c];
            }
            else if (channels == 3)
            {
                output[3 * p] = image.Pixels[p * c];
                output[3 * p + 1] = image.Pixels[p * c + 1];
                output[3 * p + 2] = image.Pixels[p * c + 2];
            }
            else output[p] = (byte)Math.Round(0.299 * image.Pixels[p * c] + 0.587 * image.Pixels[p * c + 1] + 0.114 * image.Pixels[p * c + 2]);
        }
        return new ImageBuffer(image.Width, image.Height, channels, output);
    }
}
