using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Pipeline.Storage;

/// <summary>
/// The resilience pipeline every Azure request runs through: a bounded per-attempt timeout inside a
/// bounded exponential back-off with jitter, retrying only what is transient (5xx but 501/505, 408,
/// 429, a lost connection, a timed-out attempt). Each attempt builds and signs a fresh request, so a
/// retry is a clean re-send. What is safe to re-send is the caller's choice of operations: every
/// request the store makes replaces state with the same state (Put Blob, Put Block with its own block
/// id, Put Block List of the same ids, Delete) — a re-send can at worst report a stale conflict, never
/// corrupt a blob.
/// </summary>
internal static class BlobRetry
{
    public static ResiliencePipeline<HttpResponseMessage> Create(AzureBlobStoreOptions options)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
                ShouldHandle = args => ValueTask.FromResult(IsTransient(args.Outcome, args.Context.CancellationToken)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, options.MaxRetryDelay)),
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose(); // the failed response is dropped; free its connection
                    return default;
                },
            });
        }

        return builder.AddTimeout(options.AttemptTimeout).Build();
    }

    internal static bool IsTransient(Outcome<HttpResponseMessage> outcome, CancellationToken callerToken) =>
        outcome.Exception switch
        {
            null => outcome.Result is { } response && IsTransient((int)response.StatusCode),
            HttpRequestException or IOException or TimeoutRejectedException => true,
            // HttpClient's own timeout surfaces as a cancellation the caller did not ask for.
            OperationCanceledException => !callerToken.IsCancellationRequested,
            _ => false,
        };

    internal static bool IsTransient(int status) => status is 408 or 429 || (status >= 500 && status is not (501 or 505));

    /// <summary>A server's Retry-After (429/503) wins over our back-off, within the same cap.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeSpan cap)
    {
        var header = response?.Headers.RetryAfter;
        var wait = header?.Delta ?? (header?.Date is { } at ? at - DateTimeOffset.UtcNow : null);
        return wait is { } w && w > TimeSpan.Zero ? (w < cap ? w : cap) : null;
    }
}
