namespace Pipeline.Vision.Data.Sources;

/// <summary>The files under a folder (linked files are read, linked folders are not entered).</summary>
public sealed class FolderSource : IFileSource
{
    private readonly HashSet<string> _set;
    private readonly string _root;

    /// <param name="displayName">How messages name the folder; its full path by default.</param>
    public FolderSource(string folder, string? displayName = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such folder");
        _root = Path.GetFullPath(folder).TrimEnd('/');
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
        return File.ReadAllBytes(Path.Combine(_root, path));
    }

    public string Describe(string path) => $"{Name}/{path}";

    public void Dispose() { }

    private void Walk(DirectoryInfo dir, string prefix, List<string> files, List<Validation.DatasetProblem> problems)
    {
        foreach (var entry in dir.EnumerateFileSystemInfos())
        {
            var relative = prefix + entry.Name;
            if (entry is FileInfo) files.Add(relative);
            // Linked folders are not entered: they can form cycles or lead anywhere on the machine.
            else if (entry.LinkTarget is not null)
                problems.Add(new(Validation.ProblemKind.LinkNotFollowed, Describe(relative), $"linked folder (to {entry.LinkTarget}) is not read"));
            else Walk((DirectoryInfo)entry, relative + "/", files, problems);
        }
    }
}
