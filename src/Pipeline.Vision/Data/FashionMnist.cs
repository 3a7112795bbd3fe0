using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Data;

/// <summary>
/// MNIST-style IDX sets: <c>train-images-idx3-ubyte[.gz]</c>, <c>train-labels-idx1-ubyte[.gz]</c>,
/// <c>t10k-images-idx3-ubyte[.gz]</c>, <c>t10k-labels-idx1-ubyte[.gz]</c> in one folder (as Debian's
/// dataset-fashion-mnist installs under /usr/share/datasets/fashion-mnist).
/// </summary>
public static class FashionMnist
{
    public const string DebianPath = "/usr/share/datasets/fashion-mnist";

    public static readonly IReadOnlyList<string> ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>True when <paramref name="folder"/> holds the four IDX files (compressed or not).</summary>
    public static bool IsIdxFolder(string folder) =>
        new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }
            .All(name => Find(folder, name) is not null);

    /// <summary>Loads the "train" or "t10k" split as a (N, 1, 28, 28) uint8 set with class names
    /// (Fashion-MNIST's when <paramref name="classes"/> is null).</summary>
    public static TensorDataset Load(string folder, string split, IReadOnlyList<string>? classes = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var imagesPath = Find(folder, $"{split}-images-idx3-ubyte") ?? throw new FileNotFoundException($"{folder}: no {split}-images-idx3-ubyte[.gz]");
        var labelsPath = Find(folder, $"{split}-labels-idx1-ubyte") ?? throw new FileNotFoundException($"{folder}: no {split}-labels-idx1-ubyte[.gz]");
        var images = IdxFile.Read(imagesPath);
        var labels = IdxFile.Read(labelsPath);
        if (images.Shape.Count != 3) throw new InvalidDataException($"{imagesPath}: expected 3 dimensions (N, H, W), got {images.Shape.Count}");
        if (labels.Shape.Count != 1) throw new InvalidDataException($"{labelsPath}: expected 1 dimension (N), got {labels.Shape.Count}");
        if (images.Shape[0] != labels.Shape[0])
            throw new InvalidDataException($"{labelsPath}: {labels.Shape[0]} labels for {images.Shape[0]} images in {imagesPath}");
        classes ??= ClassNames;
        var labelValues = new long[labels.Data.Length];
        for (var k = 0; k < labelValues.Length; k++)
        {
            if (labels.Data[k] >= classes.Count)
                throw new InvalidDataException($"{labelsPath}: item {k} has label {labels.Data[k]}, but there are only {classes.Count} classes");
            labelValues[k] = labels.Data[k];
        }
        using var scope = NewDisposeScope();
        var imageTensor = tensor(images.Data, [images.Shape[0], 1, images.Shape[1], images.Shape[2]]);
        var labelTensor = tensor(labelValues);
        return new TensorDataset(imageTensor, labelTensor, classes);
    }

    private static string? Find(string folder, string name)
    {
        foreach (var candidate in new[] { Path.Combine(folder, name), Path.Combine(folder, name + ".gz") })
            if (File.Exists(candidate)) return candidate;
        return null;
    }
}
