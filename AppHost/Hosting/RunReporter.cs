using Microsoft.Extensions.Hosting;

namespace Pipeline.AppHost.Hosting;

/// <summary>Prints what a user of the run needs once it is there: <c>PIPELINE_URL</c> and <c>PIPELINE_API_KEY</c> (for the
/// CLI) when ingest is healthy, and one line when every resource is.</summary>
public sealed class RunReporter(DistributedApplicationModel model, ResourceNotificationService notifications, PipelineRun run,
    IHostApplicationLifetime lifetime) : LoopService
{
    public const string IngestName = "ingest";
    public const string StudioName = "studio";
    public const string AllHealthyLine = "All resources are healthy.";

    protected override Task RunAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(PrintStatesAsync(stoppingToken), PrintSettingsAsync(stoppingToken));

    /// <summary>One line per change of a replica's state or health, as the dashboard's resource page shows them.</summary>
    private async Task PrintStatesAsync(CancellationToken stoppingToken)
    {
        var last = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            await foreach (var e in notifications.WatchAsync(stoppingToken))
            {
                // Parameters have no process; an empty state is DCP's moment between two.
                if (e.Resource is ParameterResource || string.IsNullOrEmpty(e.Snapshot.State?.Text))
                {
                    continue;
                }
                var line = $"{e.Snapshot.State?.Text ?? "Unknown"}{(e.Snapshot.HealthStatus is { } health ? $" ({health})" : "")}{(e.Snapshot.ExitCode is int code ? $" exit code {code}" : "")}";
                if (last.TryGetValue(e.ResourceId, out var previous) && previous == line)
                {
                    continue;
                }
                last[e.ResourceId] = line;
                Console.WriteLine($"{e.ResourceId}: {line}");
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The graph's own resources: its projects and infrastructure (not Aspire's dashboard, nor the rebuilders
    /// Aspire adds to projects, which start only when asked).</summary>
    public static bool IsOfThePipeline(IResource resource) =>
        resource is ProjectResource || resource.GetType().Namespace == typeof(RunReporter).Namespace;

    private async Task PrintSettingsAsync(CancellationToken stoppingToken)
    {
        try
        {
            var ingest = model.Resources.OfType<ProjectResource>().Single(r => r.Name == IngestName);
            await notifications.WaitForResourceHealthyAsync(IngestName, stoppingToken);
            Console.WriteLine($"PIPELINE_URL={ingest.GetEndpoint("http").Url}");
            Console.WriteLine($"PIPELINE_API_KEY={run.ApiKey}");
            if (model.Resources.OfType<ProjectResource>().SingleOrDefault(r => r.Name == StudioName) is { } studio)
            {
                await notifications.WaitForResourceHealthyAsync(StudioName, stoppingToken);
                Console.WriteLine($"Studio: {studio.GetEndpoint("http").Url}/login?t={run.StudioToken}");
            }
            foreach (var resource in model.Resources.Where(IsOfThePipeline))
            {
                await notifications.WaitForResourceHealthyAsync(resource.Name, stoppingToken);
            }
            Console.WriteLine(AllHealthyLine);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested || lifetime.ApplicationStopping.IsCancellationRequested)
        {
        }
    }
}
