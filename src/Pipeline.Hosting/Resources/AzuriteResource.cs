namespace Pipeline.Hosting;

/// <summary>Azurite's blob service from the repository's npm lock file (infra/azurite).</summary>
public sealed class AzuriteResource : ProcessResource
{
    public const string RelativeExecutable = "infra/azurite/node_modules/.bin/azurite-blob";

    /// <summary>The well-known development account key published with Azurite.</summary>
    public const string DevAccount = "devstoreaccount1";
    public const string DevAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    public AzuriteResource(string name) : base(name) => Endpoints.Add(new EndpointAnnotation("blob", "http"));

    public override string TypeName => "Azurite";

    public override IEnumerable<string> RequiredFiles(ResourceContext context) =>
        [Path.Combine(context.AppDirectory, RelativeExecutable)];

    public override ProcessLaunch GetLaunch(ResourceContext context, int replica)
    {
        var port = GetEndpoint("blob").Port(replica).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var data = Path.Combine(context.DataDirectory, "data");
        Directory.CreateDirectory(data);
        return new ProcessLaunch(
            Path.Combine(context.AppDirectory, RelativeExecutable),
            ["--blobHost", "127.0.0.1", "--blobPort", port, "--location", data, "--silent", "--skipApiVersionCheck"],
            context.DataDirectory,
            new Dictionary<string, string>());
    }

    public override IHealthCheck GetHealthCheck(ResourceContext context, int replica) =>
        new HttpHealthCheck(new Uri($"{GetEndpoint("blob").Url(replica)}/devstoreaccount1?comp=list"), anyStatus: true);
}

/// <summary>The blob service of an Azurite, referenced by its connection string.</summary>
public sealed class AzuriteBlobResource(string name, AzuriteResource parent) : IResourceWithConnectionString, IResourceWithParent
{
    public string Name { get; } = name;
    public AzuriteResource Parent { get; } = parent;
    ProcessResource IResourceWithParent.Parent => Parent;
    public string TypeName => "Blobs";

    public string Endpoint => $"{Parent.GetEndpoint("blob").Url()}/devstoreaccount1";

    public string GetConnectionString() =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AzuriteResource.DevAccountKey};BlobEndpoint={Endpoint};";
}
