using Microsoft.Extensions.Configuration;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.AppHost.Hosting;

/// <summary>Azurite's blob service from the repository's npm lock file (infra/azurite), with one storage account of its
/// own: a name and key generated for the data folder (<c>AZURITE_ACCOUNTS</c>) instead of the well-known development
/// account, whose published key would let any local user read every blob.</summary>
public sealed class AzuriteResource(string name, string command, string dataDirectory, ParameterResource accountName, ParameterResource accountKey)
    : ExecutableResource(name, command, dataDirectory)
{
    public const string RelativeExecutable = "infra/azurite/node_modules/.bin/azurite-blob";
    public const string BlobEndpointName = "blob";

    public string DataDirectory { get; } = dataDirectory;
    public ParameterResource AccountNameParameter { get; } = accountName;
    public ParameterResource AccountKeyParameter { get; } = accountKey;
    public EndpointReference BlobEndpoint => new(this, BlobEndpointName);

    /// <summary>The key of the registered health check that asks the blob service for the account.</summary>
    public string HealthCheckKey => $"{Name}-blob";
}

/// <summary>The blob service of an Azurite, referenced by its connection string (the Azure SDK's format).</summary>
public sealed class AzuriteBlobsResource(string name, AzuriteResource parent) : Resource(name), IResourceWithConnectionString, IResourceWithParent<AzuriteResource>
{
    public AzuriteResource Parent { get; } = parent;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"DefaultEndpointsProtocol=http;AccountName={Parent.AccountNameParameter};AccountKey={Parent.AccountKeyParameter};BlobEndpoint=http://127.0.0.1:{Parent.BlobEndpoint.Property(EndpointProperty.Port)}/{Parent.AccountNameParameter};");
}

public static class AzuriteBuilderExtensions
{
    /// <summary>Adds Azurite (<paramref name="storageName"/>) and its blob service (<paramref name="blobsName"/>), or, when
    /// configuration has <c>ConnectionStrings:{blobsName}</c> (an Azure Storage account), that account instead.</summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddPipelineBlobs(this IDistributedApplicationBuilder builder, string storageName, string blobsName, PipelineRun run)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!string.IsNullOrEmpty(builder.Configuration.GetConnectionString(blobsName)))
        {
            return builder.AddConnectionString(blobsName);
        }
        return builder.AddAzurite(storageName, run).AddBlobs(blobsName);
    }

    public static IResourceBuilder<AzuriteResource> AddAzurite(this IDistributedApplicationBuilder builder, string name, PipelineRun run)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(run);
        var data = Path.Combine(run.Directory, name);
        var blobs = Path.Combine(data, "data");
        IResourceBuilder<ParameterResource> account, key;
        if (builder.ExecutionContext.IsPublishMode)
        {
            account = builder.AddParameter($"{name}-account");
            key = builder.AddParameter($"{name}-key", secret: true);
        }
        else
        {
            var secrets = ResourceSecrets.LoadOrCreate(data, () => new()
            {
                ["account"] = "pipeline" + ResourceSecrets.RandomHex(4),
                ["key"] = ResourceSecrets.RandomBase64Key(),
            });
            // Blobs kept from a run before accounts were generated belong to the development account, which no longer exists.
            if (secrets.Created && Directory.Exists(blobs) && Directory.EnumerateFileSystemEntries(blobs).Any())
            {
                throw new InvalidOperationException(
                    $"Azurite's blobs in {blobs} were stored without the account kept in {secrets.FilePath}: delete {blobs} (its blobs are lost) or use a new run folder.");
            }
            Directory.CreateDirectory(blobs);
            account = builder.AddParameter($"{name}-account", secrets["account"]);
            key = builder.AddParameter($"{name}-key", secrets["key"], secret: true);
        }

        var port = FreePort.Next();
        var resource = new AzuriteResource(name, Path.Combine(run.AppDirectory, AzuriteResource.RelativeExecutable), data, account.Resource, key.Resource);
        var azurite = builder.AddResource(resource)
            .WithArgs("--blobHost", "127.0.0.1", "--blobPort", port.ToString(CultureInfo.InvariantCulture), "--location", blobs, "--silent", "--skipApiVersionCheck")
            .WithEndpoint(AzuriteResource.BlobEndpointName, e => FreePort.Fix(e, port, "http"))
            // Only this account exists then: the development account is gone.
            .WithEnvironment(context => context.EnvironmentVariables["AZURITE_ACCOUNTS"] = ReferenceExpression.Create($"{account.Resource}:{key.Resource}"));

        // Any answer to an account request proves the blob service is serving (an unsigned one is refused with 403).
        var check = resource.HealthCheckKey;
        var url = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/devstoreaccount1?comp=list");
        builder.Services.AddHealthChecks().Add(new(check, _ => new HttpAnswerCheck(() => url, anyStatus: true), failureStatus: null, tags: null));
        return azurite.WithHealthCheck(check);
    }

    public static IResourceBuilder<AzuriteBlobsResource> AddBlobs(this IResourceBuilder<AzuriteResource> storage, string name)
    {
        ArgumentNullException.ThrowIfNull(storage);
        var blobs = storage.ApplicationBuilder.AddResource(new AzuriteBlobsResource(name, storage.Resource))
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "AzureBlobStorage",
                State = KnownResourceStates.NotStarted,
                Properties = [],
            });
        // The blob service is up when its Azurite is healthy (that health check asks the blob service itself): the
        // child follows the parent's state rather than running a check of its own.
        storage.ApplicationBuilder.Eventing.Subscribe<ResourceReadyEvent>(storage.Resource, async (e, ct) =>
        {
            var notifications = e.Services.GetRequiredService<ResourceNotificationService>();
            await notifications.PublishUpdateAsync(blobs.Resource, s => s with { State = KnownResourceStates.Running });
        });
        return blobs.WithParentRelationship(storage);
    }
}
