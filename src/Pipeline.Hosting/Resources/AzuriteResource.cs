namespace Pipeline.Hosting;

/// <summary>Azurite's blob service from the repository's npm lock file (infra/azurite), with one storage account of
/// its own: a name and key generated for the run folder (<c>AZURITE_ACCOUNTS</c>) instead of the well-known
/// development account, whose published key would let any local user read every blob.</summary>
public sealed class AzuriteResource : ProcessResource
{
    public const string RelativeExecutable = "infra/azurite/node_modules/.bin/azurite-blob";

    private ResourceSecrets? secrets;

    public AzuriteResource(string name) : base(name) => Endpoints.Add(new EndpointAnnotation("blob", "http"));

    public override string TypeName => "Azurite";

    /// <summary>The run's storage account: lower-case letters and digits, as Azure names are.</summary>
    public string AccountName => Secrets["account"];

    /// <summary>Its key (base64 of 64 random bytes), kept with the blobs it signs for.</summary>
    public string AccountKey => Secrets["key"];

    private ResourceSecrets Secrets =>
        secrets ?? throw new InvalidOperationException($"Azurite '{Name}' has no account yet: build the application first.");

    public override void InitializeSecrets(string dataDirectory) =>
        secrets = ResourceSecrets.LoadOrCreate(dataDirectory, () => new()
        {
            ["account"] = "pipeline" + ResourceSecrets.RandomHex(4),
            ["key"] = ResourceSecrets.RandomBase64Key(),
        });

    public override IEnumerable<string> RequiredFiles(ResourceContext context) =>
        [Path.Combine(context.AppDirectory, RelativeExecutable)];

    public override Task PrepareAsync(ResourceContext context, Action<string> log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        // Blobs kept from a run before accounts were generated belong to the development account, which no longer exists.
        var data = Path.Combine(context.DataDirectory, "data");
        if (Secrets.Created && Directory.Exists(data) && Directory.EnumerateFileSystemEntries(data).Any())
        {
            throw new InvalidOperationException(
                $"Azurite's blobs in {data} were stored without the account kept in {Secrets.FilePath}: delete {data} (its blobs are lost) or use a new run folder.");
        }
        return Task.CompletedTask;
    }

    public override ProcessLaunch GetLaunch(ResourceContext context, int replica)
    {
        var port = GetEndpoint("blob").Port(replica).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var data = Path.Combine(context.DataDirectory, "data");
        Directory.CreateDirectory(data);
        return new ProcessLaunch(
            Path.Combine(context.AppDirectory, RelativeExecutable),
            ["--blobHost", "127.0.0.1", "--blobPort", port, "--location", data, "--silent", "--skipApiVersionCheck"],
            context.DataDirectory,
            // Only this account exists then: the development account is gone.
            new Dictionary<string, string> { ["AZURITE_ACCOUNTS"] = $"{AccountName}:{AccountKey}" });
    }

    public override IHealthCheck GetHealthCheck(ResourceContext context, int replica) =>
        new HttpHealthCheck(new Uri($"{GetEndpoint("blob").Url(replica)}/{AccountName}?comp=list"), anyStatus: true);
}

/// <summary>The blob service of an Azurite, referenced by its connection string.</summary>
public sealed class AzuriteBlobResource(string name, AzuriteResource parent) : IResourceWithConnectionString, IResourceWithParent
{
    public string Name { get; } = name;
    public AzuriteResource Parent { get; } = parent;
    ProcessResource IResourceWithParent.Parent => Parent;
    public string TypeName => "Blobs";

    public string Endpoint => $"{Parent.GetEndpoint("blob").Url()}/{Parent.AccountName}";

    public string GetConnectionString() =>
        $"DefaultEndpointsProtocol=http;AccountName={Parent.AccountName};AccountKey={Parent.AccountKey};BlobEndpoint={Endpoint};";
}
