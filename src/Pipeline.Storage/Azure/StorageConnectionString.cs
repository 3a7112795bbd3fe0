namespace Pipeline.Storage;

/// <summary>
/// An Azure Storage connection string, reduced to what the blob client needs: the account, its key
/// and the blob endpoint. Accepts Azure's format (<c>DefaultEndpointsProtocol</c>, <c>AccountName</c>,
/// <c>AccountKey</c>, <c>BlobEndpoint</c>, <c>EndpointSuffix</c>) and <c>UseDevelopmentStorage=true</c>
/// (Azurite's well-known account on 127.0.0.1:10000).
/// </summary>
public sealed record StorageConnectionString(string AccountName, string AccountKey, Uri BlobEndpoint)
{
    /// <summary>Azurite's published development account.</summary>
    public const string DevelopmentAccountName = "devstoreaccount1";

    /// <summary>Azurite's published development key (public by design; it protects nothing).</summary>
    public const string DevelopmentAccountKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    // Keys Azure defines that the blob client has no use for; accepted so real strings parse.
    private static readonly HashSet<string> IgnoredKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "QueueEndpoint", "TableEndpoint", "FileEndpoint", "DevelopmentStorageProxyUri",
    };

    private static readonly HashSet<string> KnownKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "DefaultEndpointsProtocol", "AccountName", "AccountKey", "BlobEndpoint", "EndpointSuffix", "UseDevelopmentStorage",
    };

    /// <summary>Azurite's account at its default blob port.</summary>
    public static StorageConnectionString Development { get; } = new(DevelopmentAccountName, DevelopmentAccountKey,
        new Uri($"http://127.0.0.1:10000/{DevelopmentAccountName}"));

    /// <summary>Parses a connection string.</summary>
    /// <exception cref="FormatException">A part is malformed, unknown, missing or has a bad value; the message names it.</exception>
    public static StorageConnectionString Parse(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new FormatException($"Connection string part '{Redact(part)}' is not of the form Key=Value.");
            }

            // Split at the first '=' only: base64 keys end in '='.
            var key = part[..equals].Trim();
            var value = part[(equals + 1)..].Trim();
            if (!KnownKeys.Contains(key) && !IgnoredKeys.Contains(key))
            {
                throw new FormatException($"Connection string key '{key}' is not known (expected one of: {string.Join(", ", KnownKeys)}).");
            }

            if (!parts.TryAdd(key, value))
            {
                throw new FormatException($"Connection string key '{key}' appears more than once.");
            }
        }

        if (parts.TryGetValue("UseDevelopmentStorage", out var development))
        {
            if (!development.Equals("true", StringComparison.OrdinalIgnoreCase))
            {
                throw new FormatException($"Connection string key 'UseDevelopmentStorage' must be 'true', not '{development}'.");
            }

            var extra = parts.Keys.FirstOrDefault(k => !k.Equals("UseDevelopmentStorage", StringComparison.OrdinalIgnoreCase)
                                                       && !IgnoredKeys.Contains(k));
            return extra is null
                ? Development
                : throw new FormatException($"Connection string key '{extra}' cannot be combined with 'UseDevelopmentStorage=true'.");
        }

        var account = Required(parts, "AccountName");
        var accountKey = Required(parts, "AccountKey");
        if (!IsBase64(accountKey))
        {
            throw new FormatException("Connection string key 'AccountKey' is not valid base64.");
        }

        return new StorageConnectionString(account, accountKey, BlobEndpointOf(parts, account));
    }

    private static Uri BlobEndpointOf(Dictionary<string, string> parts, string account)
    {
        if (parts.TryGetValue("BlobEndpoint", out var explicitEndpoint))
        {
            if (!Uri.TryCreate(explicitEndpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            {
                throw new FormatException($"Connection string key 'BlobEndpoint' is not an absolute http(s) URL: '{explicitEndpoint}'.");
            }

            return endpoint;
        }

        var protocol = parts.GetValueOrDefault("DefaultEndpointsProtocol", "https").ToLowerInvariant();
        if (protocol is not ("http" or "https"))
        {
            throw new FormatException($"Connection string key 'DefaultEndpointsProtocol' must be 'http' or 'https', not '{protocol}'.");
        }

        var suffix = parts.GetValueOrDefault("EndpointSuffix", "core.windows.net");
        return Uri.TryCreate($"{protocol}://{account}.blob.{suffix}", UriKind.Absolute, out var derived)
            ? derived
            : throw new FormatException($"Connection string keys 'AccountName' and 'EndpointSuffix' do not form a host name: '{account}.blob.{suffix}'.");
    }

    private static string Required(Dictionary<string, string> parts, string key) =>
        parts.TryGetValue(key, out var value) && value.Length > 0
            ? value
            : throw new FormatException($"Connection string key '{key}' is missing or empty.");

    private static bool IsBase64(string value) =>
        value.Length > 0 && Convert.TryFromBase64String(value, new byte[value.Length], out _);

    /// <summary>Never echo what may be a secret.</summary>
    private static string Redact(string part) => part.Length <= 24 ? part : part[..24] + "…";

    /// <summary>The key is a secret: keep it out of logs that print records.</summary>
    public override string ToString() => $"AccountName={AccountName};BlobEndpoint={BlobEndpoint}";
}
