using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Imaging;

namespace Pipeline.Vision.Data.Formats;

/// <summary>
/// MNIST-style IDX files (<c>train-images-idx3-ubyte[.gz]</c> with <c>train-labels-idx1-ubyte[.gz]</c>, and the
/// <c>t10k</c> pair as the test split), loaded with inline pixels. Class names are Fashion-MNIST's when the source's
/// name says "fashion", else the digits. For training tensors, <see cref="FashionMnist.Load"/> is the fast path.
/// </summary>
public sealed class IdxFormat : IDatasetFormat
{
    private static readonly (string Prefix, DatasetSplit Split)[] Parts = [("train", DatasetSplit.Train), ("t10k", DatasetSplit.Test)];

    public string Name => "idx";

    public bool Matches(IFileSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Parts.Any(p => Find(source, $"{p.Prefix}-images-idx3-ubyte") is not null && Find(source, $"{p.Prefix}-labels-idx1-ubyte") is not null);
    }

    public DatasetLoad Load(IFileSource source, DatasetLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        var classes = source.Name.Contains("fashion", StringComparison.OrdinalIgnoreCase)
            ? FashionMnist.ClassNames
            : Enumerable.Range(0, 10).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var items = new List<DatasetItem>();
        foreach (var (prefix, split) in Parts)
        {
            var imagesPath = Find(source, $"{prefix}-images-idx3-ubyte");
            var labelsPath = Find(source, $"{prefix}-labels-idx1-ubyte");
            if (imagesPath is null || labelsPath is null) continue;
            var images = Read(source, imagesPath);
            var labels = Read(source, labelsPath);
            if (images.Shape.Count != 3) throw new DatasetFormatException($"{source.Describe(imagesPath)}: expected 3 dimensions (N, H, W), got {images.Shape.Count}");
            if (labels.Shape.Count != 1 || labels.Shape[0] != images.Shape[0])
                throw new DatasetFormatException($"{source.Describe(labelsPath)}: {(labels.Shape.Count == 1 ? labels.Shape[0] : -1)} labels for {images.Shape[0]} images");
            int h = images.Shape[1], w = images.Shape[2];
            for (var k = 0; k < images.Shape[0]; k++)
            {
                if (labels.Data[k] >= classes.Count)
                    throw new DatasetFormatException($"{source.Describe(labelsPath)}: item {k} has label {labels.Data[k]}, but there are only {classes.Count} classes");
                items.Add(new DatasetItem
                {
                    Path = $"{imagesPath}#{k}",
                    Pixels = new ImageBuffer(w, h, 1, images.Data.AsSpan(k * w * h, w * h).ToArray()),
                    Label = labels.Data[k],
                    Split = split,
                    Size = (w, h),
                    Origin = $"{source.Describe(labelsPath)} item {k}",
                });
            }
        }
        return new DatasetLoad(new Dataset(TaskKind.Classify, classes, items, Name, source.Name), []);
    }

    private static IdxFile Read(IFileSource source, string path)
    {
        using var bytes = new MemoryStream(source.ReadAllBytes(path));
        return IdxFile.ReadFile(bytes, path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase), source.Describe(path));
    }

    private static string? Find(IFileSource source, string name) =>
        source.Contains(name) ? name : source.Contains(name + ".gz") ? name + ".gz" : null;
}
