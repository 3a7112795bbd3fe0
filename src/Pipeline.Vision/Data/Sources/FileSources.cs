namespace Pipeline.Vision.Data.Sources;

/// <summary>Opens a dataset path as the right source: a folder, a .zip, or a .tar / .tar.gz / .tgz archive.</summary>
public static class FileSources
{
    /// <param name="displayName">How messages name the source (the user's own path or file name for a local copy, as
    /// the services read one); its full path by default.</param>
    public static IFileSource Open(string path, ArchiveLimits? limits = null, string? displayName = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path)) return new FolderSource(path, displayName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such folder or archive");
        var name = path.ToLowerInvariant();
        if (name.EndsWith(".zip", StringComparison.Ordinal)) return new ZipSource(path, limits, displayName);
        if (name.EndsWith(".tar", StringComparison.Ordinal) || name.EndsWith(".tar.gz", StringComparison.Ordinal) || name.EndsWith(".tgz", StringComparison.Ordinal))
            return new TarSource(path, limits, displayName);
        throw new InvalidDataException($"{path}: not a folder, .zip, .tar, .tar.gz or .tgz");
    }
}
