namespace Pipeline.Storage;

/// <summary>Tuning of <see cref="AzureBlobStore"/>; the defaults suit artifacts from kilobytes to gigabytes.</summary>
public sealed record AzureBlobStoreOptions
{
    /// <summary>
    /// Size of one staged block. Inputs up to this size go up in a single Put Blob; larger ones as
    /// staged blocks committed by one block list. Two blocks are buffered (one sent while the next is read),
    /// so a retry can re-send a block.
    /// </summary>
    public int BlockSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Blobs asked for per List Blobs page; null leaves it to the service (5000).</summary>
    public int? ListPageSize { get; init; }

    /// <summary>Retries after a transient failure (the SDK's policy: 408, 429, 500, 502, 503, 504, a lost connection or a timed-out attempt).</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>First back-off delay; it grows exponentially, with jitter, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Cap on one back-off delay (a server's Retry-After is honoured as the SDK does).</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed for one attempt to answer (the SDK's network timeout: it also bounds each read of a download).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(100);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(BlockSize, nameof(BlockSize));
        // Azure caps a block at 4000 MiB; our buffer is an array, so int.MaxValue bounds it first.
        if (ListPageSize is { } page)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(page, nameof(ListPageSize));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries, nameof(MaxRetries));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AttemptTimeout, TimeSpan.Zero, nameof(AttemptTimeout));
    }
}
