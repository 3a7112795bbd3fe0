using Pipeline.Vision.Data.Sources;

namespace Pipeline.Ingest;

/// <summary>
/// The folders of this machine that submissions may name by path (<c>PIPELINE_DATASET_ROOTS</c>, separated by ':').
/// Anything else on the machine is not the API's to read: a path outside them, or one that leads out of them through a
/// link, is refused with the same answer whether or not it exists. With no roots, datasets come only as uploads.
/// </summary>
public sealed class DatasetRoots
{
    public const string Variable = "PIPELINE_DATASET_ROOTS";

    public DatasetRoots(IEnumerable<string> roots) =>
        Roots = roots.Where(r => !string.IsNullOrWhiteSpace(r)).Select(r => Path.GetFullPath(r.Trim()).TrimEnd('/')).Where(r => r.Length > 0).ToList();

    public IReadOnlyList<string> Roots { get; }

    public static DatasetRoots FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return new((configuration[Variable] ?? "").Split(Path.PathSeparator));
    }

    /// <summary>Null when <paramref name="path"/> may be read, else why not (naming only the path as given).</summary>
    public string? Refusal(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Path.IsPathFullyQualified(path)) return $"{path}: the path must be absolute";
        if (Roots.Count == 0)
            return $"{path}: this service reads no folders of its machine ({Variable} is empty): upload the dataset instead (pipeline submit uploads a folder or an archive)";
        var full = Path.GetFullPath(path);
        if (!Roots.Any(r => Under(full, r)) || !Roots.Any(r => FolderSource.IsInside(full, r)))
            return $"{path}: not under the service's dataset folders ({string.Join(", ", Roots)}): upload the dataset instead (pipeline submit uploads a folder or an archive)";
        return null;
    }

    private static bool Under(string path, string root) =>
        root == "/" || path == root || path.StartsWith(root + "/", StringComparison.Ordinal);
}
