using System.Security.Cryptography;

namespace Pipeline.Studio;

/// <summary>What the studio reads from configuration (the AppHost sets each as an environment variable):
/// <list type="bullet">
/// <item><c>PIPELINE_STUDIO_TOKEN</c>: the login token (without one, a random token for this run is printed).</item>
/// <item><c>services:ingest:http:0</c> (<c>services__ingest__http__0</c>, Aspire's service discovery): the jobs API.</item>
/// <item><c>PIPELINE_API_KEY</c>: sent to the jobs API as X-Api-Key, server-side only.</item>
/// <item><c>services:prometheus:http:0</c>: Prometheus, for queue depths and trainer throughput.</item>
/// <item><c>PIPELINE_BUNDLED_DATASETS</c>: <c>Name=/folder;Other=/folder</c>, offered on the submit page when the folder exists.</item>
/// </list></summary>
public sealed class StudioSettings
{
    public const string TokenKey = "PIPELINE_STUDIO_TOKEN";
    public const string IngestKey = "services:ingest:http:0";
    public const string ApiKeyKey = "PIPELINE_API_KEY";
    public const string PrometheusKey = "services:prometheus:http:0";
    public const string BundledDatasetsKey = "PIPELINE_BUNDLED_DATASETS";

    public required string Token { get; init; }

    /// <summary>True when no token was configured and this run made its own (printed at start).</summary>
    public bool TokenGenerated { get; init; }

    /// <summary><c>http://ingest/</c>, which service discovery resolves from <c>services:ingest:http:*</c>, or null when that
    /// is not configured: then the studio says it has no jobs API.</summary>
    public Uri? JobsApi { get; init; }

    public string ApiKey { get; init; } = "";

    /// <summary><c>http://prometheus/</c> (service discovery), or null.</summary>
    public Uri? Prometheus { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> BundledDatasets { get; init; } = [];

    public static StudioSettings From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var token = configuration[TokenKey];
        var generated = string.IsNullOrWhiteSpace(token);
        if (generated)
        {
            token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        }
        return new StudioSettings
        {
            Token = token!,
            TokenGenerated = generated,
            JobsApi = ServiceUri(configuration, IngestKey, "ingest"),
            ApiKey = configuration[ApiKeyKey] ?? "",
            Prometheus = ServiceUri(configuration, PrometheusKey, "prometheus"),
            BundledDatasets = ParseDatasets(configuration[BundledDatasetsKey]),
        };
    }

    /// <summary>The service by name (the HttpClients resolve it through service discovery), once its address is known
    /// to be configured and well formed: a typo stops the start rather than every request.</summary>
    private static Uri? ServiceUri(IConfiguration configuration, string key, string service)
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        return Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? new Uri($"http://{service}/")
            : throw new InvalidOperationException($"{key} must be an http(s) URL, got '{value}'");
    }

    /// <summary><c>Fashion-MNIST=/usr/share/datasets/fashion-mnist;Mine=/data/mine</c>: ';' between entries (':' belongs to paths).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ParseDatasets(string? value)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var entry in (value ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? entry[..eq].Trim() : "";
            var folder = eq > 0 ? entry[(eq + 1)..].Trim() : "";
            if (name.Length == 0 || !Path.IsPathRooted(folder))
            {
                throw new InvalidOperationException($"{BundledDatasetsKey}: '{entry}' is not NAME=/absolute/folder");
            }
            list.Add(new(name, folder));
        }
        return list;
    }
}
