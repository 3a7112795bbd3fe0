using System.Collections.Concurrent;
using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pipeline.Tests.Support;

/// <summary>
/// The AppHost's own graph, started in-process through Aspire.Hosting.Testing with the tests' settings as command-line
/// configuration, and what the tests ask of it: connection strings, endpoints (each replica's own port too), the
/// services' real process ids (projects run under a <c>dotnet run</c> wrapper), and how many times a replica crashed.
/// </summary>
public sealed class PipelineApp : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ResourceEvent> latest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> connectionStrings = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource watching = new();
    private int crashes;
    private Task watcher = Task.CompletedTask;

    private PipelineApp(DistributedApplication app, string runDirectory)
    {
        App = app;
        RunDirectory = runDirectory;
    }

    public DistributedApplication App { get; }

    /// <summary>The run folder given as <c>--data-dir</c>.</summary>
    public string RunDirectory { get; }

    public ResourceNotificationService Notifications => App.ResourceNotifications;

    /// <summary>Builds and starts the AppHost with <paramref name="args"/> (plus <c>--data-dir</c>) and waits until
    /// <paramref name="healthy"/> are healthy.</summary>
    public static async Task<PipelineApp> StartAsync(string runDirectory, IEnumerable<string> args, TimeSpan limit, params string[] healthy)
    {
        string[] all = ["--data-dir", runDirectory, .. args];
        // The AppHost's entry point by its assembly: a test project that also references a web project sees two Programs.
        var entryPoint = typeof(Pipeline.AppHost.Hosting.PipelineRun).Assembly.EntryPoint!.DeclaringType!;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync(entryPoint, all);
        return await StartBuiltAsync(builder, runDirectory, limit, healthy);
    }

    /// <summary>Builds and starts a part of the graph that <paramref name="declare"/> adds with the AppHost's own hosting
    /// extensions, in <paramref name="runDirectory"/>, and waits until <paramref name="healthy"/> are healthy.</summary>
    public static async Task<PipelineApp> StartPartAsync(string runDirectory, Action<IDistributedApplicationTestingBuilder, Pipeline.AppHost.Hosting.PipelineRun> declare,
        TimeSpan limit, params string[] healthy)
    {
        ArgumentNullException.ThrowIfNull(declare);
        var (run, builder) = Pipeline.AppHost.Hosting.PipelineRun.CreatePart(runDirectory, () => DistributedApplicationTestingBuilder.Create());
        declare(builder, run);
        return await StartBuiltAsync(builder, runDirectory, limit, healthy);
    }

    private static async Task<PipelineApp> StartBuiltAsync(IDistributedApplicationTestingBuilder builder, string runDirectory, TimeSpan limit, string[] healthy)
    {
        // The replicas' console output is kept per replica (KeepLogsAsync) and printed for failed runs; echoed into the
        // test output it buried the results under tens of thousands of lines.
        builder.Services.AddLogging(logging => logging.AddFilter("AppHost.Resources", LogLevel.None));
        var app = await builder.BuildAsync();
        var pipeline = new PipelineApp(app, runDirectory);
        pipeline.watcher = pipeline.WatchAsync(pipeline.watching.Token);
        using var timeout = new CancellationTokenSource(limit);
        await app.StartAsync(timeout.Token);
        foreach (var name in healthy)
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(name, timeout.Token);
        }
        return pipeline;
    }

    private async Task WatchAsync(CancellationToken token)
    {
        try
        {
            await foreach (var e in App.ResourceNotifications.WatchAsync(token))
            {
                latest.TryGetValue(e.ResourceId, out var before);
                var was = before?.Snapshot.State?.Text;
                var now = e.Snapshot.State?.Text;
                if (was == KnownResourceStates.Running && (now == KnownResourceStates.Exited || now == KnownResourceStates.Finished))
                {
                    Interlocked.Increment(ref crashes);
                }
                latest[e.ResourceId] = e;
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    /// <summary>How many times a replica went from Running to exited while the app ran (every stop here is a crash: the
    /// tests stop nothing through the dashboard).</summary>
    public int Crashes => Volatile.Read(ref crashes);

    public string GetConnectionString(string name) =>
        connectionStrings.GetOrAdd(name, n => App.GetConnectionStringAsync(n).AsTask().GetAwaiter().GetResult()
            ?? throw new InvalidOperationException($"'{n}' has no connection string."));

    /// <summary>The resource's endpoint (for replicas: Aspire's proxy in front of them all).</summary>
    public Uri GetEndpoint(string resource, string endpoint = "http") => App.GetEndpoint(resource, endpoint);

    /// <summary>The replicas of a resource, by their resource ids, in a stable order.</summary>
    public IReadOnlyList<ResourceEvent> Replicas(string resource) =>
        [.. latest.Values.Where(e => e.Resource.Name == resource).OrderBy(e => e.ResourceId, StringComparer.Ordinal)];

    /// <summary>Replica <paramref name="index"/> of a resource: the one whose <c>PIPELINE_REPLICA_INDEX</c> it is (the
    /// trainers), else the index-th by resource id.</summary>
    public ResourceEvent Replica(string resource, int index)
    {
        var replicas = Replicas(resource);
        var text = index.ToString(CultureInfo.InvariantCulture);
        return replicas.FirstOrDefault(r => r.Snapshot.EnvironmentVariables.Any(v => v.Name == "PIPELINE_REPLICA_INDEX" && v.Value == text))
            ?? replicas[index];
    }

    /// <summary>A replica's own endpoint: the port DCP gave that replica (its ASPNETCORE_URLS).</summary>
    public Uri ReplicaEndpoint(string resource, int replica)
    {
        var snapshot = Replica(resource, replica).Snapshot;
        var urls = snapshot.EnvironmentVariables.Single(v => v.Name == "ASPNETCORE_URLS").Value!;
        var url = new Uri(urls.Split(';')[0]);
        return new Uri($"http://127.0.0.1:{url.Port.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>The process DCP started for the replica (for a project: its <c>dotnet run</c> wrapper).</summary>
    public static int? LauncherPid(ResourceEvent replica) =>
        replica.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value switch
        {
            int pid => pid,
            long pid => (int)pid,
            string text when int.TryParse(text, CultureInfo.InvariantCulture, out var pid) => pid,
            _ => null,
        };

    /// <summary>The service's own process: for a project the wrapper's descendant that runs the built service.</summary>
    public int ServicePid(ResourceEvent replica)
    {
        ArgumentNullException.ThrowIfNull(replica);
        var launcher = LauncherPid(replica) ?? throw new InvalidOperationException($"{replica.ResourceId} has no process.");
        if (replica.Resource is not ProjectResource)
        {
            return launcher;
        }
        var descendants = ProcessTree.Descendants(launcher);
        return descendants.LastOrDefault(pid => !ProcessTree.CommandLine(pid).StartsWith("dotnet ", StringComparison.Ordinal), launcher);
    }

    /// <summary>The service process of the resource's only (or first) replica.</summary>
    public int ServicePid(string resource, int replica = 0) => ServicePid(Replica(resource, replica));

    /// <summary>Each replica's console output, kept under <c>$PIPELINE_TEST_LOGS/&lt;run&gt;/</c> when infra/test.sh asks for
    /// it (it prints their tails when a test failed).</summary>
    private async Task KeepLogsAsync()
    {
        if (Environment.GetEnvironmentVariable("PIPELINE_TEST_LOGS") is not { Length: > 0 } root)
        {
            return;
        }
        var folder = Path.Combine(root, Path.GetFileName(RunDirectory));
        Directory.CreateDirectory(folder);
        var logs = App.Services.GetRequiredService<ResourceLoggerService>();
        foreach (var replica in latest.Keys)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var lines = new List<string>();
            await foreach (var batch in logs.GetAllAsync(replica).WithCancellation(limit.Token))
            {
                lines.AddRange(batch.Select(l => l.Content));
            }
            await File.WriteAllLinesAsync(Path.Combine(folder, replica + ".log"), lines, CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KeepLogsAsync();
        await watching.CancelAsync();
        await watcher.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        watching.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
