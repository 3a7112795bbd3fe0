using Pipeline.Vision.Data.Formats;
using Pipeline.Vision.Data.Sources;

namespace Pipeline.Vision.Data;

/// <summary>Reads a dataset in any known format, named or recognised from the source's files.</summary>
public static class DatasetLoader
{
    /// <summary>The formats in the order they are tried: the most specific layouts first, ImageFolder last (YOLO's
    /// <c>train/images/</c> folders would otherwise pass for classes).</summary>
    public static IReadOnlyList<IDatasetFormat> Formats { get; } =
        [new IdxFormat(), new PaliGemmaFormat(), new CocoFormat(), new YoloFormat(), new ImageFolderFormat()];

    public static IDatasetFormat Format(string name) =>
        Formats.FirstOrDefault(f => f.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown dataset format '{name}' (known: {string.Join(", ", Formats.Select(f => f.Name))})", nameof(name));

    /// <summary>The format the source is in; throws naming the source when none fits.</summary>
    public static IDatasetFormat Detect(IFileSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Files.Count == 0) throw new DatasetFormatException($"{source.Name}: the dataset is empty (no files)");
        return Formats.FirstOrDefault(f => f.Matches(source))
            ?? throw new DatasetFormatException($"{source.Name}: not a known dataset layout (looked for {string.Join(", ", Formats.Select(f => f.Name))})");
    }

    /// <summary>Loads from <paramref name="source"/>; a source whose files all sit in one top folder is read from inside it
    /// (item paths stay relative to <paramref name="source"/>). The problems include the archive entries the source refused.</summary>
    public static DatasetLoad Load(IFileSource source, string? format = null, DatasetLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var prefix = WrapperFolder(source);
        var root = prefix.Length == 0 ? source : new SubfolderSource(source, prefix);
        var chosen = format is null ? Detect(root) : Format(format);
        var load = chosen.Load(root, options ?? DatasetLoadOptions.Default);
        if (prefix.Length > 0)
        {
            var items = load.Dataset.Items.Select(i => i.Pixels is null ? i with { Path = prefix + i.Path } : i).ToList();
            var problems = load.Problems.Select(p => p.Item is null ? p : p with { Item = prefix + p.Item }).ToList();
            load = new DatasetLoad(new Dataset(load.Dataset.Task, load.Dataset.Classes, items, load.Dataset.Format, source.Name), problems);
        }
        return source.Problems.Count == 0 ? load : load with { Problems = [.. source.Problems, .. load.Problems] };
    }

    /// <summary>Whether a file of a dataset folder is one some format reads (an image, a label or annotation file, an IDX
    /// file): only those are stored.</summary>
    public static bool IsDatasetFile(string path) => DatasetPaths.IsDatasetFile(path);

    /// <summary>"top/" when every meaningful file sits under one folder that is not itself part of a layout, else "".</summary>
    private static string WrapperFolder(IFileSource source)
    {
        var prefix = "";
        var files = source.Files.Where(DatasetPaths.IsDatasetFile).ToList();
        while (files.Count > 0)
        {
            var first = files[0].Split('/')[0];
            var wrapped = files.All(f => f.StartsWith(first + "/", StringComparison.Ordinal));
            // A top folder named like a split, or the only class of an ImageFolder, is part of the layout.
            if (!wrapped || DatasetPaths.SplitOfName(first) != DatasetSplit.Unassigned || !files.Any(f => f.Count(c => c == '/') >= 2)) break;
            prefix += first + "/";
            files = files.Select(f => f[(first.Length + 1)..]).ToList();
        }
        return prefix;
    }
}
