using TorchSharp;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Data;

/// <summary>
/// Turns dataset items into model input: gathers uint8 images and labels, moves them to the device, scales to [0, 1],
/// resizes when the recipe names a size, repeats grey images on three channels when the recipe asks for three
/// (<c>input.channels</c>), optionally augments (training), and normalises per channel.
/// </summary>
public sealed class ImageBatcher
{
    private readonly TensorDataset dataset;
    private readonly Device device;
    private readonly double[] mean;
    private readonly double[] std;
    private readonly int[]? size;
    private readonly int channels;
    private readonly TensorAugmenter? augmenter;

    public ImageBatcher(TensorDataset dataset, InputRecipe input, Device device, TensorAugmenter? augmenter = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(input);
        this.dataset = dataset;
        this.device = device;
        this.augmenter = augmenter;
        size = input.Size;
        channels = ModelChannels(input, dataset.Images.shape[1]);
        mean = PerChannel(input.Mean, channels, "input.mean");
        std = PerChannel(input.Std, channels, "input.std");
    }

    /// <summary>Float images (B, C, H, W) and int64 labels (B) on the device; the tensors join the current dispose scope.</summary>
    public (Tensor Images, Tensor Labels) Batch(ReadOnlySpan<long> indices)
    {
        var index = tensor(indices.ToArray());
        var (images, labels) = dataset.GetBatch(index);
        var x = images.to(device).to(float32).div_(255.0);
        if (size is not null && (x.shape[2] != size[0] || x.shape[3] != size[1]))
            x = nn.functional.interpolate(x, size: [size[0], size[1]], mode: InterpolationMode.Bilinear, align_corners: false);
        if (augmenter is not null) x = augmenter.Apply(x);
        // Grey repeated on three channels (the same augmentation on each).
        if (x.shape[1] != channels) x = x.expand(-1, channels, -1, -1);
        using var m = tensor(mean.Select(v => (float)v).ToArray(), [1, mean.Length, 1, 1], device: device);
        using var s = tensor(std.Select(v => (float)v).ToArray(), [1, std.Length, 1, 1], device: device);
        return ((x - m) / s, labels.to(device));
    }

    /// <summary>The channels the model takes for images of <paramref name="imageChannels"/> channels: the recipe's
    /// <c>input.channels</c> (3 from grey: the image repeated), else the images' own.</summary>
    public static int ModelChannels(InputRecipe input, long imageChannels)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Channels is not { } wanted || wanted == imageChannels) return (int)imageChannels;
        if (imageChannels == 1) return wanted;
        throw new ArgumentException($"input.channels is {wanted} but the images have {imageChannels} channels (only grey images are repeated on three)");
    }

    private static double[] PerChannel(double[] values, int channels, string key)
    {
        if (values.Length == 1) return Enumerable.Repeat(values[0], channels).ToArray();
        if (values.Length == channels) return values;
        throw new ArgumentException($"{key} has {values.Length} values but the images have {channels} channels");
    }
}
