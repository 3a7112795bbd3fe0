namespace Pipeline.Training.Checkpoints;

/// <summary>Writes a file through a temporary sibling and a rename, so readers see the old or the new file, never half.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<string> writeTo)
    {
        ArgumentNullException.ThrowIfNull(writeTo);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            writeTo(temp);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static void WriteAllText(string path, string text) => Write(path, temp => File.WriteAllText(temp, text));
}
