using System.IO.Compression;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Vision.Data.Sources;

/// <summary>
/// The files of a zip archive, read entry by entry without unpacking it: unsafe entry names and links are refused
/// (listed as problems), and the entry count and declared total size are bounded; an entry that inflates past its
/// declared size is refused when read.
/// </summary>
public sealed class ZipSource : IFileSource
{
    private readonly ZipArchive _zip;
    private readonly Dictionary<string, ZipArchiveEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <param name="displayName">How messages name the archive; its full path by default.</param>
    public ZipSource(string path, ArchiveLimits? limits = null, string? displayName = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        limits ??= ArchiveLimits.Default;
        var fullPath = Path.GetFullPath(path);
        Name = displayName ?? fullPath;
        try
        {
            _zip = ZipFile.OpenRead(fullPath);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{Name}: not a readable zip archive ({e.Message})", e);
        }
        var problems = new List<DatasetProblem>();
        try
        {
            if (_zip.Entries.Count > limits.MaxEntries)
                throw new ArchiveLimitException($"{Name}: {_zip.Entries.Count} entries, over the limit of {limits.MaxEntries}");
            long total = 0;
            foreach (var entry in _zip.Entries)
            {
                if (entry.FullName.EndsWith('/') || entry.FullName.EndsWith('\\')) continue;
                var relative = EntryPath.Normalize(entry.FullName, out var reason);
                // Unix mode bits in the high word of the external attributes: 0xA000 marks a symbolic link.
                if (relative is not null && ((entry.ExternalAttributes >> 16) & 0xF000) == 0xA000)
                    reason = "symbolic link entries are not allowed";
                if (relative is null || reason is not null)
                {
                    problems.Add(new(ProblemKind.UnsafeArchiveEntry, $"{Name}!/{entry.FullName}", $"refused archive entry: {reason}"));
                    continue;
                }
                total += entry.Length;
                if (total > limits.MaxTotalBytes)
                    throw new ArchiveLimitException($"{Name}: entries unpack to more than the limit of {limits.MaxTotalBytes} bytes");
                _entries[relative] = entry;
            }
        }
        catch
        {
            _zip.Dispose();
            throw;
        }
        Files = _entries.Keys.Order(StringComparer.Ordinal).ToList();
        Problems = problems;
    }

    public string Name { get; }
    public IReadOnlyList<string> Files { get; }
    public IReadOnlyList<DatasetProblem> Problems { get; }

    public bool Contains(string path) => _entries.ContainsKey(path);

    public byte[] ReadAllBytes(string path)
    {
        if (!_entries.TryGetValue(path, out var entry)) throw new FileNotFoundException($"{Describe(path)}: no such entry in the archive");
        lock (_gate)
        {
            var declared = entry.Length;
            using var stream = entry.Open();
            var buffer = new byte[declared];
            var read = 0;
            try
            {
                while (read < declared)
                {
                    var n = stream.Read(buffer, read, (int)(declared - read));
                    if (n == 0) throw new InvalidDataException($"{Describe(path)}: entry holds {read} bytes, less than its declared {declared}");
                    read += n;
                }
                if (stream.ReadByte() >= 0)
                    throw new InvalidDataException($"{Describe(path)}: entry inflates past its declared size of {declared} bytes");
            }
            catch (InvalidDataException e) when (!e.Message.StartsWith(Describe(path), StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{Describe(path)}: corrupt archive entry ({e.Message})", e);
            }
            return buffer;
        }
    }

    public string Describe(string path) => $"{Name}!/{path}";

    public void Dispose() => _zip.Dispose();
}
