namespace Pipeline.Vision.Data.Sources;

/// <summary>Bounds on what an archive may unpack to, so that an upload cannot exhaust memory or disk (zip/tar bombs).</summary>
public sealed record ArchiveLimits
{
    public static ArchiveLimits Default { get; } = new();

    public int MaxEntries { get; init; } = 2_000_000;
    public long MaxTotalBytes { get; init; } = 32L << 30;
}

/// <summary>An archive over its <see cref="ArchiveLimits"/>: refused as a whole.</summary>
public sealed class ArchiveLimitException : Exception
{
    public ArchiveLimitException(string message) : base(message) { }
    public ArchiveLimitException() { }
    public ArchiveLimitException(string message, Exception innerException) : base(message, innerException) { }
}
