namespace Pipeline.Storage;

/// <summary>Tuning of <see cref="AzureBlobStore"/>; the defaults suit artifacts from kilobytes to gigabytes.</summary>
public sealed record AzureBlobStoreOptions
{
    /// <summary>
    /// Size of one staged block. Inputs up to this size go up in a single Put Blob; larger ones as
    /// blocks committed by one Put Block List. One block is buffered at a time (so a block can be re-sent).
    /// </summary>
    public int BlockSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Blobs asked for per List Blobs page; null leaves it to the service (5000).</summary>
    public int? ListPageSize { get; init; }

    /// <summary>Retries after a transient failure (5xx, 408, 429, a lost connection or a timed-out attempt).</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>First back-off delay; it grows exponentially, with jitter, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Cap on one back-off delay, also on a server's Retry-After.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed for one attempt to get its response headers.</summary>
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
