using TorchSharp;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Data;

/// <summary>
/// Turns dataset items into model input: gathers uint8 images and labels, moves them to the device, scales to [0, 1],
/// resizes when the recipe names a size, optionally augments (training), and normalises per channel.
/// </summary>
public sealed class ImageBatcher
{
    private readonly TensorDataset dataset;
    private readonly Device device;
    private readonly double[] mean;
    private readonly double[] std;
    private readonly int[]? size;
    private readonly TensorAugmenter? augmenter;

    public ImageBatcher(TensorDataset dataset, InputRecipe input, Device device, TensorAugmenter? augmenter = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(input);
        this.dataset = dataset;
        this.device = device;
        this.augmenter = augmenter;
        size = input.Size;
        var channels = (int)dataset.Images.shape[1];
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
        using var m = tensor(mean.Select(v => (float)v).ToArray(), [1, mean.Length, 1, 1], device: device);
        using var s = tensor(std.Select(v => (float)v).ToArray(), [1, std.Length, 1, 1], device: device);
        return ((x - m) / s, labels.to(device));
    }

    private static double[] PerChannel(double[] values, int channels, string key)
    {
        if (values.Length == 1) return Enumerable.Repeat(values[0], channels).ToArray();
        if (values.Length == channels) return values;
        throw new ArgumentException($"{key} has {values.Length} values but the images have {channels} channels");
    }
}
