namespace Pipeline.Storage;

/// <summary>Blob paths as messages carry them: <c>container/name</c> (a name may be a prefix ending in '/').</summary>
public static class BlobPaths
{
    public static (string Container, string Name) Split(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0) throw new ArgumentException($"'{path}' is not a container/name blob path", nameof(path));
        return (path[..slash], path[(slash + 1)..]);
    }

    public static string Join(string container, string name) => $"{container}/{name}";
}
