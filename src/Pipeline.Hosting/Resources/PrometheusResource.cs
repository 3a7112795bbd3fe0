using System.Globalization;
using System.Text;

namespace Pipeline.Hosting;

/// <summary>Debian's Prometheus scraping every replica of every resource that serves metrics (the projects' /metrics,
/// RabbitMQ's queues) every 5 s.</summary>
public sealed class PrometheusResource : ProcessResource
{
    public const string Executable = "/usr/bin/prometheus";

    public PrometheusResource(string name) : base(name) => Endpoints.Add(new EndpointAnnotation("http", "http"));

    public override string TypeName => "Prometheus";

    public override IEnumerable<string> RequiredFiles(ResourceContext context) => [Executable];

    public override Task PrepareAsync(ResourceContext context, Action<string> log, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(context.DataDirectory);
        File.WriteAllText(Path.Combine(context.DataDirectory, "prometheus.yml"), Config(context.Model));
        return Task.CompletedTask;
    }

    /// <summary>One job per resource, one target per replica, labelled with the replica's instance name.</summary>
    public string Config(DistributedApplicationModel model)
    {
        var yml = new StringBuilder();
        yml.AppendLine("global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\nscrape_configs:");
        yml.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {Name}\n    static_configs:\n      - targets: ['127.0.0.1:{GetEndpoint("http").Port()}']");
        foreach (var resource in model.ProcessResources.Where(r => r is IResourceWithMetrics))
        {
            var metrics = (IResourceWithMetrics)resource;
            yml.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {resource.Name}\n    metrics_path: {metrics.MetricsPath}\n    static_configs:");
            for (var i = 0; i < resource.Replicas; i++)
            {
                yml.AppendLine(CultureInfo.InvariantCulture,
                    $"      - targets: ['127.0.0.1:{resource.GetEndpoint(metrics.MetricsEndpointName).Port(i)}']\n        labels: {{ replica: '{resource.InstanceName(i)}' }}");
            }
        }
        return yml.ToString();
    }

    public override ProcessLaunch GetLaunch(ResourceContext context, int replica) => new(
        Executable,
        [
            $"--config.file={Path.Combine(context.DataDirectory, "prometheus.yml")}",
            $"--storage.tsdb.path={Path.Combine(context.DataDirectory, "data")}",
            $"--web.listen-address=127.0.0.1:{GetEndpoint("http").Port(replica).ToString(CultureInfo.InvariantCulture)}",
        ],
        context.DataDirectory,
        new Dictionary<string, string>());

    public override IHealthCheck GetHealthCheck(ResourceContext context, int replica) =>
        new HttpHealthCheck(new Uri($"{GetEndpoint("http").Url(replica)}/-/ready"));
}
