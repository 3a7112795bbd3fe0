namespace Pipeline.Hosting;

/// <summary>Keeps one replica running: launch, watch health, restart with exponential back-off when it
/// ends, and stop it (with its whole tree) on request. Publishes every state change to the registry.</summary>
internal sealed class ReplicaSupervisor(
    ProcessResource resource,
    int replica,
    ResourceContext context,
    Func<ProcessLaunch> launch,
    ResourceRegistry registry,
    LogRing log)
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StartingProbeInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan HealthyProbeInterval = TimeSpan.FromSeconds(5);
    // A run this long and healthy ends a crash streak: the next restart waits the first back-off again.
    private static readonly TimeSpan StableUptime = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource stopping = new();
    private Task? run;

    public string InstanceName { get; } = resource.InstanceName(replica);

    public void Start() => run = RunAsync();

    public async Task StopAsync()
    {
        await stopping.CancelAsync();
        if (run is not null)
        {
            await run;
        }
    }

    private async Task RunAsync()
    {
        var markers = new[]
        {
            $"{ProcessTree.RunDirectoryVariable}={context.Options.RunDirectory}",
            $"{ProcessTree.InstanceVariable}={InstanceName}",
        };
        var failuresInARow = 0;
        var restarts = 0;
        while (true)
        {
            Update(ResourceState.Starting, s => s with { RestartCount = restarts, ExitCode = null, Message = null });
            RunningProcess process;
            try
            {
                process = RunningProcess.Start(launch(), markers, log.Add);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.Add(true, $"[apphost] failed to start: {e.Message}");
                Update(ResourceState.FailedToStart, s => s with { Message = e.Message });
                return;
            }

            using (process)
            {
                var startedAt = DateTime.UtcNow;
                Update(ResourceState.Running, s => s with { ProcessId = process.Pid });
                using var monitoring = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
                var healthy = MonitorHealthAsync(resource.GetHealthCheck(context, replica), monitoring.Token);
                await Task.WhenAny(process.Exited, Task.Delay(Timeout.Infinite, stopping.Token));
                await monitoring.CancelAsync();
                var wasHealthy = await healthy;

                if (stopping.IsCancellationRequested)
                {
                    await process.StopAsync(context.Options.ShutdownTimeout);
                    Update(ResourceState.Finished, s => s with { ExitCode = process.Exited.Result, Message = "stopped" });
                    return;
                }

                // Ended on its own: clear what it left behind (children, daemons) before the next launch.
                var exitCode = await process.Exited;
                await process.KillAsync();
                log.Add(true, $"[apphost] process {process.Pid} exited with code {exitCode}");
                Update(ResourceState.Exited, s => s with { ExitCode = exitCode, Message = $"exited with code {exitCode}" });
                failuresInARow = wasHealthy && DateTime.UtcNow - startedAt >= StableUptime ? 1 : failuresInARow + 1;
            }

            var backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, FirstBackoff.Ticks << Math.Min(failuresInARow - 1, 10)));
            Update(ResourceState.Restarting, s => s with { Message = $"restarting in {backoff.TotalSeconds:0.#} s" });
            try
            {
                await Task.Delay(backoff, stopping.Token);
            }
            catch (OperationCanceledException)
            {
                Update(ResourceState.Finished, s => s with { Message = "stopped" });
                return;
            }
            restarts++;
        }
    }

    /// <summary>Probes until cancelled; returns whether the process was ever healthy.</summary>
    private async Task<bool> MonitorHealthAsync(IHealthCheck? check, CancellationToken cancellationToken)
    {
        var everHealthy = false;
        try
        {
            while (true)
            {
                var result = check is null ? HealthResult.Healthy : await check.CheckAsync(cancellationToken);
                cancellationToken.ThrowIfCancellationRequested();
                if (result.IsHealthy)
                {
                    everHealthy = true;
                    UpdateIfChanged(ResourceState.Healthy, null);
                }
                else if (everHealthy)
                {
                    // Before the first success it is still starting up, not unhealthy.
                    UpdateIfChanged(ResourceState.Unhealthy, result.Description);
                }
                await Task.Delay(everHealthy ? HealthyProbeInterval : StartingProbeInterval, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            return everHealthy;
        }
    }

    private void UpdateIfChanged(ResourceState state, string? message)
    {
        var current = registry.Get(InstanceName);
        if (current.State != state || current.Message != message)
        {
            Update(state, s => s with { Message = message });
        }
    }

    private void Update(ResourceState state, Func<ResourceSnapshot, ResourceSnapshot> change) =>
        registry.Update(InstanceName, s => change(s with { State = state }));
}
