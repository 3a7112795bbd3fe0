using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Pipeline.AppHost.Hosting;

/// <summary>Debian's Prometheus, scraping every replica of every project's <c>/metrics</c> and the broker's queue depths
/// every 5 s.</summary>
public sealed class PrometheusResource(string name, string dataDirectory) : ExecutableResource(name, Executable, dataDirectory)
{
    public const string Executable = "/usr/bin/prometheus";
    public const string HttpEndpointName = "http";

    public string DataDirectory { get; } = dataDirectory;

    /// <summary>The scrape targets of the projects' replicas (file-based discovery): replicas get their ports from DCP
    /// when they start, so the AppHost rewrites this file as they come and go and Prometheus follows it.</summary>
    public string TargetsFile => Path.Combine(DataDirectory, "targets.json");

    public EndpointReference HttpEndpoint => new(this, HttpEndpointName);
}

public static class PrometheusBuilderExtensions
{
    public static IResourceBuilder<PrometheusResource> AddPrometheus(this IDistributedApplicationBuilder builder, string name, PipelineRun run,
        IResourceBuilder<IResourceWithConnectionString> broker)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(broker);
        var data = Path.Combine(run.Directory, name);
        var port = FreePort.Next();
        var resource = new PrometheusResource(name, data);
        var prometheus = builder.AddResource(resource)
            .WithArgs(
                $"--config.file={Path.Combine(data, "prometheus.yml")}",
                $"--storage.tsdb.path={Path.Combine(data, "data")}",
                $"--web.listen-address=127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}")
            .WithEndpoint(PrometheusResource.HttpEndpointName, e => FreePort.Fix(e, port, "http"));
        var check = $"{name}-ready";
        var ready = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/-/ready");
        builder.Services.AddHealthChecks().Add(new(check, _ => new HttpAnswerCheck(() => ready, anyStatus: false), failureStatus: null, tags: null));
        prometheus.WithHealthCheck(check);

        if (!builder.ExecutionContext.IsPublishMode)
        {
            Directory.CreateDirectory(data);
            var rabbit = broker.Resource as RabbitMQServerResource;
            File.WriteAllText(Path.Combine(data, "prometheus.yml"), Config(name, port, resource.TargetsFile, rabbit));
            File.WriteAllText(resource.TargetsFile, "[]");
            builder.Services.AddSingleton(resource);
            builder.Services.AddHostedService<PrometheusTargets>();
        }
        return prometheus;
    }

    private static string Config(string name, int port, string targetsFile, RabbitMQServerResource? rabbit)
    {
        var yml = new StringBuilder();
        yml.AppendLine("global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\nscrape_configs:");
        yml.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {name}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']");
        if (rabbit is not null)
        {
            var metrics = rabbit.Annotations.OfType<EndpointAnnotation>().Single(e => e.Name == RabbitMQServerResource.MetricsEndpointName);
            yml.AppendLine(CultureInfo.InvariantCulture,
                $"  - job_name: {rabbit.Name}\n    metrics_path: {RabbitMQServerResource.MetricsPath}\n    static_configs:\n      - targets: ['127.0.0.1:{metrics.Port}']");
        }
        // The projects' replicas: the job label comes with each target group.
        yml.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: services\n    file_sd_configs:\n      - files: ['{targetsFile}']\n        refresh_interval: 5s");
        return yml.ToString();
    }
}

/// <summary>Keeps Prometheus' targets file equal to the running replicas of the graph's projects: each replica's port
/// is the one DCP gave it (<c>HTTP_PORTS</c>... in its effective environment).</summary>
internal sealed class PrometheusTargets(PrometheusResource prometheus, ResourceNotificationService notifications) : LoopService
{
    private readonly Dictionary<string, (string Job, string Replica, int Port)> running = new(StringComparer.Ordinal);

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var e in notifications.WatchAsync(stoppingToken))
            {
                if (e.Resource is not ProjectResource)
                {
                    continue;
                }
                var port = e.Snapshot.State?.Text == KnownResourceStates.Running ? ServingPort(e.Snapshot) : null;
                var changed = port is int p
                    ? !running.TryGetValue(e.ResourceId, out var known) || known.Port != p
                    : running.ContainsKey(e.ResourceId);
                if (!changed)
                {
                    continue;
                }
                if (port is int serving)
                {
                    running[e.ResourceId] = (e.Resource.Name, ReplicaLabel(e), serving);
                }
                else
                {
                    running.Remove(e.ResourceId);
                }
                await WriteAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The replica's name in the series: <c>trainer-0</c>, <c>trainer-1</c> (from its PIPELINE_REPLICA_INDEX, which it
    /// keeps across restarts, so its curves continue), else the resource id DCP gave it.</summary>
    internal static string ReplicaLabel(ResourceEvent e) =>
        e.Snapshot.EnvironmentVariables.FirstOrDefault(v => v.Name == "PIPELINE_REPLICA_INDEX")?.Value is { Length: > 0 } index
            ? $"{e.Resource.Name}-{index}"
            : e.ResourceId;

    /// <summary>The first port of the replica's own listener: the <c>ASPNETCORE_URLS</c> (or <c>HTTP_PORTS</c>) DCP resolved for it.</summary>
    internal static int? ServingPort(CustomResourceSnapshot snapshot)
    {
        foreach (var variable in snapshot.EnvironmentVariables)
        {
            if (variable.Value is not { Length: > 0 } value)
            {
                continue;
            }
            if (variable.Name == "ASPNETCORE_URLS"
                && Uri.TryCreate(value.Split(';')[0], UriKind.Absolute, out var url) && !url.IsDefaultPort)
            {
                return url.Port;
            }
            if (variable.Name == "HTTP_PORTS" && int.TryParse(value.Split(';')[0], CultureInfo.InvariantCulture, out var port))
            {
                return port;
            }
        }
        return null;
    }

    private async Task WriteAsync(CancellationToken token)
    {
        var groups = running.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => new
        {
            targets = new[] { $"127.0.0.1:{r.Value.Port.ToString(CultureInfo.InvariantCulture)}" },
            labels = new Dictionary<string, string> { ["job"] = r.Value.Job, ["replica"] = r.Value.Replica },
        });
        // Write-then-rename: Prometheus never reads half a file.
        var temporary = prometheus.TargetsFile + ".tmp";
        await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(groups), token);
        File.Move(temporary, prometheus.TargetsFile, overwrite: true);
    }
}
