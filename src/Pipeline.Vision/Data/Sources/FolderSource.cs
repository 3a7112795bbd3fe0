namespace Pipeline.Vision.Data.Sources;

/// <summary>
/// The files under a folder. Only what lies inside the folder is read: a linked file is read when its target is inside
/// the folder too, and refused (listed as a problem) when it leads anywhere else; linked folders are not entered; each
/// file is bounded by <see cref="ArchiveLimits.MaxEntryBytes"/>.
/// </summary>
public sealed class FolderSource : IFileSource
{
    private readonly HashSet<string> _set;
    private readonly string _root;
    private readonly string _realRoot;
    private readonly ArchiveLimits _limits;

    /// <param name="displayName">How messages name the folder; its full path by default.</param>
    public FolderSource(string folder, string? displayName = null, ArchiveLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such folder");
        _limits = limits ?? ArchiveLimits.Default;
        _root = Path.GetFullPath(folder).TrimEnd('/');
        _realRoot = RealPath(_root);
        Name = displayName?.TrimEnd('/') ?? _root;
        var files = new List<string>();
        var problems = new List<Validation.DatasetProblem>();
        Walk(new DirectoryInfo(_root), "", files, problems);
        files.Sort(StringComparer.Ordinal);
        Files = files;
        Problems = problems;
        _set = new HashSet<string>(files, StringComparer.Ordinal);
    }

    public string Name { get; }
    public IReadOnlyList<string> Files { get; }
    public IReadOnlyList<Validation.DatasetProblem> Problems { get; }

    public bool Contains(string path) => _set.Contains(path);

    public byte[] ReadAllBytes(string path)
    {
        if (!_set.Contains(path)) throw new FileNotFoundException($"{Describe(path)}: no such file in the dataset");
        using var stream = File.OpenRead(Path.Combine(_root, path));
        if (stream.Length > _limits.MaxEntryBytes)
            throw new ArchiveLimitException($"{Describe(path)}: {ArchiveLimits.Bytes(stream.Length)}, over the limit of {ArchiveLimits.Bytes(_limits.MaxEntryBytes)} for one file ({ArchiveLimits.MaxEntryBytesVariable})");
        return ArchiveLimits.ReadBounded(stream, _limits.MaxEntryBytes, stream.Length,
            _ => $"{Describe(path)}: grew past the limit of {ArchiveLimits.Bytes(_limits.MaxEntryBytes)} for one file while read");
    }

    public string Describe(string path) => $"{Name}/{path}";

    public void Dispose() { }

    /// <summary>Whether <paramref name="path"/>, with every link on the way resolved, lies inside <paramref name="root"/>
    /// (itself resolved).</summary>
    public static bool IsInside(string path, string root)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(root);
        try
        {
            var real = RealPath(Path.GetFullPath(path));
            var realRoot = RealPath(Path.GetFullPath(root)).TrimEnd('/');
            return real == realRoot || real.StartsWith(realRoot + "/", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The path with every link in it resolved (a missing part is kept as written).</summary>
    public static string RealPath(string fullPath)
    {
        ArgumentNullException.ThrowIfNull(fullPath);
        var parts = fullPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        for (var k = 0; k < parts.Length; k++)
        {
            var next = Path.Combine(current, parts[k]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                if (target is null) return Path.Combine([next, .. parts[(k + 1)..]]);
                next = RealPath(Path.GetFullPath(target.FullName));
            }
            current = next;
        }
        return current;
    }

    private void Walk(DirectoryInfo dir, string prefix, List<string> files, List<Validation.DatasetProblem> problems)
    {
        foreach (var entry in dir.EnumerateFileSystemInfos())
        {
            var relative = prefix + entry.Name;
            if (entry is FileInfo file)
            {
                // A link (to /etc/passwd, say) would put a file of the machine into the dataset and its store.
                if (file.LinkTarget is not null && !IsInsideRoot(file.FullName))
                    problems.Add(new(Validation.ProblemKind.LinkOutsideDataset, Describe(relative), "linked file leads outside the dataset folder: not read"));
                else files.Add(relative);
            }
            // Linked folders are not entered: they can form cycles or lead anywhere on the machine.
            else if (entry.LinkTarget is not null)
                problems.Add(new(Validation.ProblemKind.LinkNotFollowed, Describe(relative), "linked folder is not read"));
            else Walk((DirectoryInfo)entry, relative + "/", files, problems);
        }
    }

    private bool IsInsideRoot(string path)
    {
        try
        {
            return RealPath(path).StartsWith(_realRoot + "/", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false; // a cycle of links, or one that cannot be read: not followed
        }
    }
}
