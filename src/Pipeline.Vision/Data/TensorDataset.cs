using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Data;

/// <summary>
/// A decoded classification set held as two tensors: images (N, C, H, W) uint8 and labels (N) int64, with
/// class names. What preprocessing produces and what the training loop batches from.
/// </summary>
public sealed class TensorDataset : IDisposable
{
    public TensorDataset(Tensor images, Tensor labels, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classes);
        if (images.dim() != 4) throw new ArgumentException($"images must be (N, C, H, W), got [{string.Join(", ", images.shape)}]", nameof(images));
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"labels must be (N) with N = {images.shape[0]}, got [{string.Join(", ", labels.shape)}]", nameof(labels));
        Images = images.DetachFromDisposeScope();
        Labels = labels.DetachFromDisposeScope();
        Classes = classes;
    }

    public Tensor Images { get; }
    public Tensor Labels { get; }
    public IReadOnlyList<string> Classes { get; }
    public long Count => Images.shape[0];

    /// <summary>The images and labels at <paramref name="indices"/> (a new uint8 and int64 tensor).</summary>
    public (Tensor Images, Tensor Labels) GetBatch(Tensor indices) =>
        (Images.index_select(0, indices), Labels.index_select(0, indices));

    /// <summary>A subset (copies) in the order of <paramref name="indices"/>.</summary>
    public TensorDataset Subset(long[] indices)
    {
        using var scope = NewDisposeScope();
        using var index = tensor(indices);
        var (images, labels) = GetBatch(index);
        return new TensorDataset(images, labels, Classes);
    }

    /// <summary>How many items each class has.</summary>
    public long[] ClassCounts()
    {
        var counts = new long[Classes.Count];
        foreach (var label in Labels.ToArray<long>()) counts[label]++;
        return counts;
    }

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
