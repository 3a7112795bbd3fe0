namespace Pipeline.Vision.Data.Sources;

/// <summary>Opens a dataset path as the right source: a folder, a .zip, or a .tar / .tar.gz / .tgz archive.</summary>
public static class FileSources
{
    public static IFileSource Open(string path, ArchiveLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path)) return new FolderSource(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such folder or archive");
        var name = path.ToLowerInvariant();
        if (name.EndsWith(".zip", StringComparison.Ordinal)) return new ZipSource(path, limits);
        if (name.EndsWith(".tar", StringComparison.Ordinal) || name.EndsWith(".tar.gz", StringComparison.Ordinal) || name.EndsWith(".tgz", StringComparison.Ordinal))
            return new TarSource(path, limits);
        throw new InvalidDataException($"{path}: not a folder, .zip, .tar, .tar.gz or .tgz");
    }
}
