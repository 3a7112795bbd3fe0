namespace Pipeline.Hosting;

/// <summary>GET a URL. With <c>anyStatus</c>, any HTTP answer counts (Azurite answers 4xx to anonymous
/// requests, which still proves the blob service serves); otherwise a 2xx is needed.</summary>
public sealed class HttpHealthCheck(Uri url, bool anyStatus = false) : IHealthCheck
{
    // One client for all checks: sockets are reused and no handler is leaked per probe.
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(3) };

    public Uri Url { get; } = url;

    public async Task<HealthResult> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            return anyStatus || response.IsSuccessStatusCode
                ? HealthResult.Healthy
                : HealthResult.Unhealthy($"GET {Url}: {(int)response.StatusCode} {response.ReasonPhrase}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return HealthResult.Unhealthy($"GET {Url}: {e.Message}");
        }
    }
}
