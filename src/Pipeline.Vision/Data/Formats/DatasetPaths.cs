namespace Pipeline.Vision.Data.Formats;

/// <summary>Conventions about paths shared by the formats: which files are images, which folder names are splits.</summary>
internal static class DatasetPaths
{
    private static readonly HashSet<string> Decodable = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png" };
    private static readonly HashSet<string> OtherImages = new(StringComparer.OrdinalIgnoreCase) { ".bmp", ".gif", ".webp", ".tif", ".tiff" };

    /// <summary>A file our codecs decode, judged by its extension (the content is sniffed when decoded).</summary>
    public static bool IsImage(string path) => Decodable.Contains(Path.GetExtension(path));

    /// <summary>An image format we do not decode: listed as a problem rather than ignored.</summary>
    public static bool IsUnsupportedImage(string path) => OtherImages.Contains(Path.GetExtension(path));

    private static readonly HashSet<string> LabelFiles = new(StringComparer.OrdinalIgnoreCase) { ".txt", ".json", ".jsonl", ".yaml", ".yml", ".names" };

    /// <summary>A file some format reads: an image, a label or annotation file, or an IDX file. Nothing else of a folder
    /// is stored or shapes the layout, so the service and its later stages see the same dataset.</summary>
    public static bool IsDatasetFile(string path) =>
        !IsNoise(path) && (IsImage(path) || LabelFiles.Contains(Path.GetExtension(path))
            || path.EndsWith("-ubyte", StringComparison.Ordinal) || path.EndsWith("-ubyte.gz", StringComparison.Ordinal));

    /// <summary>Files a dataset never means: macOS resource forks and hidden files.</summary>
    public static bool IsNoise(string path) =>
        path.StartsWith("__MACOSX/", StringComparison.Ordinal) || path.Split('/').Any(p => p.StartsWith('.'));

    public static DatasetSplit SplitOfName(string name) => name.ToLowerInvariant() switch
    {
        "train" or "training" => DatasetSplit.Train,
        "val" or "valid" or "validation" => DatasetSplit.Val,
        "test" or "testing" => DatasetSplit.Test,
        _ => DatasetSplit.Unassigned,
    };

    /// <summary>The split named by the first folder of <paramref name="path"/> that is a split name.</summary>
    public static DatasetSplit SplitOfPath(string path)
    {
        var parts = path.Split('/');
        foreach (var part in parts.AsSpan(0, parts.Length - 1))
            if (SplitOfName(part) is var split && split != DatasetSplit.Unassigned) return split;
        return DatasetSplit.Unassigned;
    }

    /// <summary>The split a file name states between dots, dashes or underscores ("_annotations.train.jsonl", "instances_val2017.json").</summary>
    public static DatasetSplit SplitOfFileName(string path)
    {
        foreach (var token in Path.GetFileNameWithoutExtension(path).Split('.', '_', '-'))
        {
            var trimmed = token.TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
            if (SplitOfName(trimmed) is var split && split != DatasetSplit.Unassigned) return split;
        }
        return DatasetSplit.Unassigned;
    }

    public static string Directory(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? "" : path[..(slash + 1)];
    }

    /// <summary>
    /// Finds the image an annotation names: next to the annotation file, from the root, in an images/ folder beside it,
    /// or else by file name when exactly one file has it.
    /// </summary>
    public static string? ResolveImage(Sources.IFileSource source, string annotationFile, string imageName, ILookup<string, string> byFileName)
    {
        var name = imageName.Replace('\\', '/').TrimStart('/');
        var dir = Directory(annotationFile);
        foreach (var candidate in new[] { dir + name, name, dir + "images/" + name, "images/" + name })
            if (source.Contains(candidate)) return candidate;
        var matches = byFileName[Path.GetFileName(name)].Take(2).ToList();
        return matches.Count == 1 ? matches[0] : null;
    }

    public static ILookup<string, string> IndexByFileName(Sources.IFileSource source) =>
        source.Files.Where(IsImage).ToLookup(f => Path.GetFileName(f), StringComparer.Ordinal);
}
