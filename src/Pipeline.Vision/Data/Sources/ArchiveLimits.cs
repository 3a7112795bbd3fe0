using System.Globalization;

namespace Pipeline.Vision.Data.Sources;

/// <summary>
/// Bounds on what an archive (or a compressed file inside a dataset) may unpack to, so that a small upload cannot
/// exhaust memory or disk (zip and tar bombs). Each bound is checked from the sizes the archive declares before any
/// byte is unpacked where the format declares them, and again on the bytes actually unpacked.
/// The defaults can be changed per process with the environment variables named on each property.
/// </summary>
public sealed record ArchiveLimits
{
    public const string MaxEntriesVariable = "PIPELINE_ARCHIVE_MAX_ENTRIES";
    public const string MaxEntryBytesVariable = "PIPELINE_ARCHIVE_MAX_ENTRY_BYTES";
    public const string MaxTotalBytesVariable = "PIPELINE_ARCHIVE_MAX_TOTAL_BYTES";
    public const string MaxRatioVariable = "PIPELINE_ARCHIVE_MAX_RATIO";

    /// <summary>The built-in bounds, each replaced by its environment variable where that is set.</summary>
    public static ArchiveLimits Default { get; } = FromEnvironment();

    /// <summary>Files in one archive (<c>PIPELINE_ARCHIVE_MAX_ENTRIES</c>).</summary>
    public int MaxEntries { get; init; } = 1_000_000;

    /// <summary>Bytes of one unpacked file (<c>PIPELINE_ARCHIVE_MAX_ENTRY_BYTES</c>): images and label files are far smaller.</summary>
    public long MaxEntryBytes { get; init; } = 512L << 20;

    /// <summary>Bytes of all unpacked files together (<c>PIPELINE_ARCHIVE_MAX_TOTAL_BYTES</c>).</summary>
    public long MaxTotalBytes { get; init; } = 16L << 30;

    /// <summary>How many times its own size an archive may unpack to (<c>PIPELINE_ARCHIVE_MAX_RATIO</c>). Images are
    /// compressed already and IDX files shrink about 2x, so a far higher ratio is a bomb.</summary>
    public int MaxRatio { get; init; } = 100;

    /// <summary>Up to this many unpacked bytes the ratio is not checked: small label files compress very well.</summary>
    public long RatioFreeBytes { get; init; } = 64L << 20;

    /// <summary>The most bytes an archive of <paramref name="packedBytes"/> may unpack to: the ratio's share (at least
    /// <see cref="RatioFreeBytes"/>), never over <see cref="MaxTotalBytes"/>.</summary>
    public long UnpackBudget(long packedBytes)
    {
        var byRatio = packedBytes > long.MaxValue / Math.Max(1, MaxRatio) ? long.MaxValue : packedBytes * MaxRatio;
        return Math.Min(MaxTotalBytes, Math.Max(RatioFreeBytes, byRatio));
    }

    /// <summary>Why <paramref name="unpacked"/> bytes from <paramref name="packedBytes"/> are over the budget, for a message.</summary>
    public string DescribeOverBudget(long unpacked, long packedBytes) =>
        unpacked > MaxTotalBytes || UnpackBudget(packedBytes) == MaxTotalBytes
            ? string.Create(CultureInfo.InvariantCulture, $"unpacks to more than {Bytes(MaxTotalBytes)}, the limit ({MaxTotalBytesVariable})")
            : string.Create(CultureInfo.InvariantCulture,
                $"unpacks to more than {Bytes(unpacked)} from {Bytes(packedBytes)}, over {MaxRatio} times its size ({MaxRatioVariable}): refused as a decompression bomb");

    public static string Bytes(long n) => n switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{n / (double)(1L << 30):0.#} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{n / (double)(1L << 20):0.#} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{n / 1024.0:0.#} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{n} bytes"),
    };

    public static ArchiveLimits FromEnvironment()
    {
        var limits = new ArchiveLimits();
        return limits with
        {
            MaxEntries = (int)Read(MaxEntriesVariable, limits.MaxEntries, int.MaxValue),
            MaxEntryBytes = Read(MaxEntryBytesVariable, limits.MaxEntryBytes, long.MaxValue),
            MaxTotalBytes = Read(MaxTotalBytesVariable, limits.MaxTotalBytes, long.MaxValue),
            MaxRatio = (int)Read(MaxRatioVariable, limits.MaxRatio, int.MaxValue),
        };
    }

    private static long Read(string variable, long fallback, long max)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(text)) return fallback;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 1 || value > max)
            throw new InvalidOperationException($"{variable}={text}: expected a whole number from 1 to {max}");
        return value;
    }

    /// <summary>Reads a stream to its end into memory, refusing it as soon as it passes <paramref name="limit"/>
    /// bytes; the buffer grows with what really arrives, never with what a header declares.</summary>
    public static byte[] ReadBounded(Stream stream, long limit, long expected, Func<long, string> overLimit)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(overLimit);
        // A byte array holds at most Array.MaxLength bytes: a larger configured limit is that one.
        limit = Math.Min(limit, Array.MaxLength);
        using var buffer = new MemoryStream((int)Math.Clamp(expected, 0, 1 << 20));
        var chunk = new byte[81920];
        long total = 0;
        for (int n; (n = stream.Read(chunk, 0, chunk.Length)) > 0;)
        {
            total += n;
            if (total > limit) throw new ArchiveLimitException(overLimit(total));
            buffer.Write(chunk, 0, n);
        }
        return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
    }
}

/// <summary>An archive over its <see cref="ArchiveLimits"/>: refused as a whole.</summary>
public sealed class ArchiveLimitException : Exception
{
    public ArchiveLimitException(string message) : base(message) { }
    public ArchiveLimitException() { }
    public ArchiveLimitException(string message, Exception innerException) : base(message, innerException) { }
}
