namespace Pipeline.Hosting;

/// <summary>What the AppHost's dashboard shows besides the resources: the jobs of an HTTP API it calls
/// server-side with the API key (the browser never sees the key), and service metrics from Prometheus.</summary>
public sealed class DashboardOptions
{
    /// <summary>Port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>The project resource serving /api/jobs (the ingest service).</summary>
    public string? JobsApiResource { get; set; }

    /// <summary>Sent to the jobs API as X-Api-Key.</summary>
    public string? JobsApiKey { get; set; }

    /// <summary>The Prometheus resource queried for service metrics.</summary>
    public string? MetricsResource { get; set; }

    /// <summary>Folders offered on the submit page as bundled datasets (name, path); only those that exist are shown.</summary>
    public IList<KeyValuePair<string, string>> BundledDatasets { get; } = [];

    public DashboardOptions WithJobsApi(IResourceBuilder<ProjectResource> api, string apiKey)
    {
        ArgumentNullException.ThrowIfNull(api);
        JobsApiResource = api.Resource.Name;
        JobsApiKey = apiKey;
        return this;
    }

    public DashboardOptions WithMetrics(IResourceBuilder<PrometheusResource> prometheus)
    {
        ArgumentNullException.ThrowIfNull(prometheus);
        MetricsResource = prometheus.Resource.Name;
        return this;
    }

    public DashboardOptions WithBundledDataset(string name, string path)
    {
        BundledDatasets.Add(new(name, path));
        return this;
    }
}

public static class DashboardBuilderExtensions
{
    /// <summary>Hosts the dashboard in the AppHost process (Kestrel on its own port, token login).</summary>
    public static DashboardOptions AddDashboard(this IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Options.Dashboard ??= new DashboardOptions();
    }
}
