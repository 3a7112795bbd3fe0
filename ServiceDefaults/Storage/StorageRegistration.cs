using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Pipeline.Storage;

namespace Pipeline.ServiceDefaults.Storage;

/// <summary>
/// The artifact store from <c>ConnectionStrings__blobs</c>: an Azure Storage connection string (Azurite locally, Azure
/// Blob Storage in a cluster), or <c>FolderPath=/some/dir</c> for a local folder store. Its reachability is part of
/// /health/ready.
/// </summary>
public static class StorageRegistration
{
    public const string ConnectionName = "blobs";

    public static IHostApplicationBuilder AddArtifactStore(this IHostApplicationBuilder builder, string connectionName = ConnectionName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var connection = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(connection))
            throw new InvalidOperationException($"ConnectionStrings__{connectionName} is not set: run the service from the AppHost, or set it to an Azure Storage connection string or FolderPath=<dir>");
        builder.Services.AddSingleton<IArtifactStore>(_ => Create(connection));
        builder.Services.AddHealthChecks().AddCheck<ArtifactStoreHealthCheck>("artifact-store", tags: ["ready"]);
        return builder;
    }

    public static IArtifactStore Create(string connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        const string folderKey = "FolderPath=";
        return connection.StartsWith(folderKey, StringComparison.OrdinalIgnoreCase)
            ? new FolderArtifactStore(connection[folderKey.Length..].Trim().TrimEnd(';'))
            : new AzureBlobStore(connection);
    }
}

/// <summary>Ready when the store answers an authenticated request (a missing probe blob is a fine answer).</summary>
internal sealed class ArtifactStoreHealthCheck(IArtifactStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.GetPropertiesAsync("health", "probe", cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy();
        }
        catch (ArtifactNotFoundException)
        {
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is ArtifactStoreException or HttpRequestException or IOException or TaskCanceledException)
        {
            return HealthCheckResult.Unhealthy($"artifact store unreachable: {e.Message}");
        }
    }
}
