using System.Runtime.InteropServices;

namespace Pipeline.Hosting;

/// <summary>A built resource graph that can be started, watched and stopped (Aspire's DistributedApplication).</summary>
public sealed class DistributedApplication : IAsyncDisposable
{
    private readonly Orchestrator orchestrator;
    private readonly ConsoleReporter console;
    private readonly CancellationTokenSource consoleFollow = new();
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock gate = new();
    private Task? startTask;
    private Task? stopTask;
    private Task? following;

    internal DistributedApplication(DistributedApplicationOptions options, DistributedApplicationModel model)
    {
        Options = options;
        Model = model;
        Resources = new ResourceRegistry();
        Logs = new ResourceLogs(options);
        orchestrator = new Orchestrator(options, model, Resources, Logs);
        console = new ConsoleReporter(options, Resources);
        // Publishing writes manifests only: nothing runs, and the run's credentials (in endpoints) do not exist.
        if (options.Publish is null)
        {
            orchestrator.Register();
        }
        Dashboard = options.Dashboard is { } dashboard ? new DashboardServer(this, dashboard) : null;
    }

    public static IDistributedApplicationBuilder CreateBuilder(string[] args)
    {
        var options = new DistributedApplicationOptions();
        options.ApplyArguments(args);
        return new DistributedApplicationBuilder(options);
    }

    public static IDistributedApplicationBuilder CreateBuilder(DistributedApplicationOptions options) =>
        new DistributedApplicationBuilder(options);

    public DistributedApplicationOptions Options { get; }
    public DistributedApplicationModel Model { get; }

    /// <summary>State of every instance, with a change stream: what the dashboard renders.</summary>
    public ResourceRegistry Resources { get; }

    /// <summary>The hosted dashboard (AddDashboard), with its login URL; null when the graph has none.</summary>
    public DashboardServer? Dashboard { get; }

    /// <summary>Console output of every instance.</summary>
    public ResourceLogs Logs { get; }

    public string RunDirectory => Options.RunDirectory;

    /// <summary>Set when a test drives this application: the AppHost's own RunAsync then only waits.</summary>
    internal bool HostedByTest { get; set; }

    public string GetConnectionString(string resourceName) =>
        Model[resourceName] is IResourceWithConnectionString r
            ? r.GetConnectionString()
            : throw new InvalidOperationException($"Resource '{resourceName}' has no connection string.");

    public Uri GetEndpoint(string resourceName, string endpointName = "http", int replica = 0) =>
        new(DistributedApplicationModel.Owner(Model[resourceName]).GetEndpoint(endpointName).Url(replica));

    /// <summary>Checks prerequisites and launches the graph; returns without waiting for health
    /// (use Resources.WaitForResourceHealthyAsync). Calling it again returns the same start.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (gate)
        {
            return startTask ??= StartCoreAsync(cancellationToken);
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        await Prerequisites.EnsureAsync(Options, Model, cancellationToken);
        // Leftovers of an AppHost that was killed outright on this same folder (--keep-data, --data-dir)
        // would hold its RabbitMQ database and ports: clear them before starting anew.
        await ProcessTree.KillMarkedAsync($"{ProcessTree.RunDirectoryVariable}={RunDirectory}");
        if (Dashboard is not null)
        {
            await Dashboard.StartAsync(cancellationToken);
        }
        if (Options.ConsoleOutput)
        {
            if (Dashboard is not null)
            {
                Console.WriteLine($"Dashboard: {Dashboard.LoginUrl}");
            }
            console.PrintResources();
            following = console.FollowAsync(consoleFollow.Token);
        }
        orchestrator.Start();
    }

    /// <summary>Stops every resource in reverse dependency order and waits until all their processes are gone.</summary>
    public Task StopAsync()
    {
        lock (gate)
        {
            return stopTask ??= StopCoreAsync();
        }
    }

    private async Task StopCoreAsync()
    {
        try
        {
            if (startTask is not null)
            {
                // A failed start is reported by the start task itself; stopping goes on regardless.
                await Task.WhenAny(startTask);
                if (Options.ConsoleOutput)
                {
                    Console.WriteLine("Stopping ...");
                }
                await orchestrator.StopAsync();
            }
            if (Dashboard is not null)
            {
                await Dashboard.StopAsync();
            }
            await consoleFollow.CancelAsync();
            if (following is not null)
            {
                await following;
            }
            if (Options.ConsoleOutput)
            {
                Console.WriteLine("Stopped.");
            }
        }
        finally
        {
            stopped.TrySetResult();
        }
    }

    /// <summary>Starts, runs until Ctrl+C / SIGTERM / SIGHUP (or the token), then stops everything.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        if (HostedByTest)
        {
            await stopped.Task; // the test starts and stops it
            return;
        }
        if (Options.Publish is { } publish)
        {
            var files = Publishing.KubernetesPublisher.Write(Model, publish);
            Console.WriteLine($"Wrote {files.Count} Kubernetes manifests to {publish.OutputDirectory} (apply with `kubectl apply -k {publish.OutputDirectory}`).");
            return;
        }
        using var shutdown = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we exit ourselves, once every child is gone
            shutdown.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);
        try
        {
            await StartAsync(shutdown.Token);
            await Task.Delay(Timeout.Infinite, shutdown.Token);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            // Asked to stop.
        }
        catch (InvalidOperationException e) when (Options.ConsoleOutput)
        {
            // A missing prerequisite or a broken graph: one sentence, no stack trace.
            await Console.Error.WriteLineAsync(e.Message);
            Environment.ExitCode = 1;
        }
        finally
        {
            await StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (Dashboard is not null)
        {
            await Dashboard.DisposeAsync();
        }
        Logs.Dispose();
        consoleFollow.Dispose();
        if (Options.DeleteRunDirectoryOnDispose && Directory.Exists(RunDirectory))
        {
            KeepLogsForTestRun();
            Directory.Delete(RunDirectory, recursive: true);
        }
    }

    // A test run (infra/test.sh sets PIPELINE_TEST_LOGS) keeps every instance's console output of a temporary run
    // folder, so that a failed test can be read together with what the services said.
    private void KeepLogsForTestRun()
    {
        var logs = Path.Combine(RunDirectory, "logs");
        if (Environment.GetEnvironmentVariable("PIPELINE_TEST_LOGS") is not { Length: > 0 } keep || !Directory.Exists(logs))
        {
            return;
        }
        var target = Path.Combine(keep, Path.GetFileName(RunDirectory));
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(logs, "*.log"))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }
    }
}
