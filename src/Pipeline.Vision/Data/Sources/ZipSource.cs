using System.IO.Compression;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Vision.Data.Sources;

/// <summary>
/// The files of a zip archive, read entry by entry without unpacking it: unsafe entry names and links are refused
/// (listed as problems), and the entry count and declared sizes are bounded (each entry, the total, the ratio to the archive's size); an entry that inflates past
/// its declared size is refused when read.
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
                throw new ArchiveLimitException($"{Name}: {_zip.Entries.Count} entries, over the limit of {limits.MaxEntries} ({ArchiveLimits.MaxEntriesVariable})");
            // Every size is the one the archive declares, checked before anything is inflated; reading holds each
            // entry to its declared size, so the declared total bounds the real one.
            var packed = new FileInfo(fullPath).Length;
            var budget = limits.UnpackBudget(packed);
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
                if (entry.Length > limits.MaxEntryBytes)
                    throw new ArchiveLimitException($"{Name}!/{entry.FullName}: declares {ArchiveLimits.Bytes(entry.Length)} unpacked, over the limit of {ArchiveLimits.Bytes(limits.MaxEntryBytes)} for one file ({ArchiveLimits.MaxEntryBytesVariable})");
                total += entry.Length;
                if (total > budget)
                    throw new ArchiveLimitException($"{Name}!/{entry.FullName}: with this entry the archive {limits.DescribeOverBudget(total, packed)}");
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
            try
            {
                using var stream = entry.Open();
                var data = ArchiveLimits.ReadBounded(stream, declared, declared,
                    _ => $"{Describe(path)}: entry inflates past its declared size of {declared} bytes");
                if (data.Length < declared)
                    throw new InvalidDataException($"{Describe(path)}: entry holds {data.Length} bytes, less than its declared {declared}");
                return data;
            }
            catch (ArchiveLimitException e)
            {
                throw new InvalidDataException(e.Message, e);
            }
            catch (InvalidDataException e) when (!e.Message.StartsWith(Describe(path), StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{Describe(path)}: corrupt archive entry ({e.Message})", e);
            }
        }
    }

    public string Describe(string path) => $"{Name}!/{path}";

    public void Dispose() => _zip.Dispose();
}
