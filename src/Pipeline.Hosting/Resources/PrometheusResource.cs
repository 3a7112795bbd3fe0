using System.Globalization;
using System.Text;

namespace Pipeline.Hosting;

/// <summary>Debian's Prometheus scraping every project replica's /metrics every 5 s.</summary>
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

    /// <summary>One job per project, one target per replica, labelled with the replica's instance name.</summary>
    public string Config(DistributedApplicationModel model)
    {
        var yml = new StringBuilder();
        yml.AppendLine("global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\nscrape_configs:");
        yml.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {Name}\n    static_configs:\n      - targets: ['127.0.0.1:{GetEndpoint("http").Port()}']");
        foreach (var project in model.ProcessResources.OfType<ProjectResource>())
        {
            yml.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {project.Name}\n    metrics_path: /metrics\n    static_configs:");
            for (var i = 0; i < project.Replicas; i++)
            {
                yml.AppendLine(CultureInfo.InvariantCulture,
                    $"      - targets: ['127.0.0.1:{project.GetEndpoint("http").Port(i)}']\n        labels: {{ replica: '{project.InstanceName(i)}' }}");
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
