using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Vision.Data.Formats;

/// <summary>
/// torchvision's ImageFolder: one folder per class (<c>cat/1.jpg</c>), optionally under split folders
/// (<c>train/cat/1.jpg</c>, <c>val/</c> or <c>valid/</c>, <c>test/</c>). Classes are the folder names, sorted ordinally.
/// </summary>
public sealed class ImageFolderFormat : IDatasetFormat
{
    public string Name => "imagefolder";

    public bool Matches(IFileSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var images = source.Files.Where(f => !DatasetPaths.IsNoise(f) && DatasetPaths.IsImage(f)).ToList();
        return images.Count > 0 && images.Count(f => ClassFolder(f) is not null) * 2 > images.Count;
    }

    public DatasetLoad Load(IFileSource source, DatasetLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        var problems = new List<DatasetProblem>();
        var found = new List<(string Path, DatasetSplit Split, string Class)>();
        foreach (var file in source.Files)
        {
            if (DatasetPaths.IsNoise(file)) continue;
            var supported = DatasetPaths.IsImage(file);
            if (!supported && !DatasetPaths.IsUnsupportedImage(file)) continue;
            var place = ClassFolder(file);
            if (place is null)
            {
                problems.Add(new(ProblemKind.MalformedLabel, source.Describe(file), "image is not inside a class folder (class/image or split/class/image)", file));
                continue;
            }
            if (!supported)
            {
                problems.Add(new(ProblemKind.UnreadableImage, source.Describe(file), $"{Path.GetExtension(file)} images are not supported (JPEG and PNG are)", file));
                continue;
            }
            found.Add((file, place.Value.Split, place.Value.Class));
        }
        var classes = found.Select(f => f.Class).Distinct().Order(StringComparer.Ordinal).ToList();
        var index = classes.Select((name, k) => (name, k)).ToDictionary(p => p.name, p => p.k, StringComparer.Ordinal);
        var items = found.Select(f => new DatasetItem
        {
            Path = f.Path,
            Label = index[f.Class],
            Split = f.Split,
            Origin = source.Describe(DatasetPaths.Directory(f.Path).TrimEnd('/')),
        }).ToList();
        return new DatasetLoad(new Dataset(TaskKind.Classify, classes, items, Name, source.Name), problems);
    }

    private static (DatasetSplit Split, string Class)? ClassFolder(string path)
    {
        var parts = path.Split('/');
        if (parts.Length == 2) return (DatasetSplit.Unassigned, parts[0]);
        if (parts.Length == 3 && DatasetPaths.SplitOfName(parts[0]) is var split && split != DatasetSplit.Unassigned) return (split, parts[1]);
        return null;
    }
}
