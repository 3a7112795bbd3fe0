namespace Pipeline.Vision.Data.Sources;

/// <summary>A view of one folder inside another source (archives often wrap a dataset in a single top folder).
/// The view does not own the source: disposing it leaves the source open.</summary>
public sealed class SubfolderSource : IFileSource
{
    private readonly IFileSource _inner;
    private readonly string _prefix;

    public SubfolderSource(IFileSource inner, string folder)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(folder);
        _inner = inner;
        _prefix = folder.TrimEnd('/') + "/";
        Files = inner.Files.Where(f => f.StartsWith(_prefix, StringComparison.Ordinal)).Select(f => f[_prefix.Length..]).ToList();
    }

    public string Name => _inner.Describe(_prefix.TrimEnd('/'));
    public IReadOnlyList<string> Files { get; }
    public IReadOnlyList<Validation.DatasetProblem> Problems => _inner.Problems;
    public bool Contains(string path) => _inner.Contains(_prefix + path);
    public byte[] ReadAllBytes(string path) => _inner.ReadAllBytes(_prefix + path);
    public string Describe(string path) => _inner.Describe(_prefix + path);

    public void Dispose() { }
}
