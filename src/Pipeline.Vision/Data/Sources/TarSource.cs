using System.Formats.Tar;
using System.IO.Compression;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Vision.Data.Sources;

/// <summary>
/// The files of a tar or tar.gz archive. Tar cannot be read at random, so the regular-file entries are copied once
/// into a private temporary folder under names of our own (never the archive's), within the limits on entries, each entry's size, the
/// total and its ratio to the archive's size (checked on each header, before the entry is unpacked); unsafe names, links and special files are refused and listed as problems. Disposing deletes the copies.
/// </summary>
public sealed class TarSource : IFileSource
{
    private readonly DirectoryInfo _store;
    private readonly Dictionary<string, string> _stored = new(StringComparer.Ordinal);

    /// <param name="displayName">How messages name the archive; its full path by default.</param>
    public TarSource(string path, ArchiveLimits? limits = null, string? displayName = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        limits ??= ArchiveLimits.Default;
        var fullPath = Path.GetFullPath(path);
        Name = displayName ?? fullPath;
        _store = Directory.CreateTempSubdirectory("pipeline-tar-");
        var problems = new List<DatasetProblem>();
        try
        {
            using var file = File.OpenRead(fullPath);
            var packed = file.Length;
            var budget = limits.UnpackBudget(packed);
            using var stream = IsGzip(file) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
            using var reader = new TarReader(stream);
            long total = 0;
            var entries = 0;
            while (reader.GetNextEntry() is { } entry)
            {
                if (++entries > limits.MaxEntries)
                    throw new ArchiveLimitException($"{Name}: more than the limit of {limits.MaxEntries} entries ({ArchiveLimits.MaxEntriesVariable})");
                if (entry.EntryType is TarEntryType.Directory or TarEntryType.GlobalExtendedAttributes) continue;
                var relative = EntryPath.Normalize(entry.Name, out var reason);
                if (relative is not null && entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile))
                    reason = entry.EntryType is TarEntryType.SymbolicLink or TarEntryType.HardLink
                        ? $"link entries are not allowed (to {entry.LinkName})"
                        : $"{entry.EntryType} entries are not allowed";
                if (relative is null || reason is not null)
                {
                    problems.Add(new(ProblemKind.UnsafeArchiveEntry, $"{Name}!/{entry.Name}", $"refused archive entry: {reason}"));
                    continue;
                }
                // A tar header declares its entry's size before the data: a bomb is refused before it is unpacked.
                if (entry.Length > limits.MaxEntryBytes)
                    throw new ArchiveLimitException($"{Name}!/{entry.Name}: declares {ArchiveLimits.Bytes(entry.Length)} unpacked, over the limit of {ArchiveLimits.Bytes(limits.MaxEntryBytes)} for one file ({ArchiveLimits.MaxEntryBytesVariable})");
                total += entry.Length;
                if (total > budget)
                    throw new ArchiveLimitException($"{Name}!/{entry.Name}: with this entry the archive {limits.DescribeOverBudget(total, packed)}");
                var copy = Path.Combine(_store.FullName, _stored.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                using (var output = File.Create(copy))
                    entry.DataStream?.CopyTo(output);
                _stored[relative] = copy;
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            Dispose();
            throw new InvalidDataException($"{Name}: not a readable tar archive ({e.Message})", e);
        }
        catch
        {
            Dispose();
            throw;
        }
        Files = _stored.Keys.Order(StringComparer.Ordinal).ToList();
        Problems = problems;
    }

    public string Name { get; }
    public IReadOnlyList<string> Files { get; } = [];
    public IReadOnlyList<DatasetProblem> Problems { get; } = [];

    public bool Contains(string path) => _stored.ContainsKey(path);

    public byte[] ReadAllBytes(string path) =>
        _stored.TryGetValue(path, out var copy)
            ? File.ReadAllBytes(copy)
            : throw new FileNotFoundException($"{Describe(path)}: no such entry in the archive");

    public string Describe(string path) => $"{Name}!/{path}";

    public void Dispose()
    {
        if (_store.Exists) _store.Delete(recursive: true);
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        var n = file.Read(magic);
        file.Position = 0;
        return n == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }
}
