using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Pipeline.AppHost.Hosting;

/// <summary>
/// Restarts what crashed. DCP restarts containers only, so a project or executable that exits on its own (a crash, a
/// kill -9, an out-of-memory kill) would stay down: this watches every replica's state and starts it again through
/// Aspire's own start command, so the dashboard shows the restart like one a user asked for. Back-off per replica: 1 s,
/// doubling to 30 s, back to 1 s once a run stayed healthy for <see cref="StableRun"/>. A stop the user asked for (the
/// dashboard's Stop) and the AppHost's own shutdown are left alone.
/// </summary>
public sealed class CrashSupervisor(
    ResourceNotificationService notifications,
    ResourceCommandService commands,
    IHostApplicationLifetime lifetime,
    ILogger<CrashSupervisor> logger) : LoopService
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan StableRun = TimeSpan.FromSeconds(30);

    private sealed class Replica
    {
        public string? LastState;
        public int Streak;
        public int Restarts;
        public DateTime? HealthySince;
        public bool Restarting;
        public bool StopRequested;
    }

    private readonly ConcurrentDictionary<string, Replica> replicas = new(StringComparer.Ordinal);

    /// <summary>The wait before restart number <paramref name="streak"/> (0-based) of a crash streak.</summary>
    public static TimeSpan Delay(int streak) =>
        TimeSpan.FromTicks(Math.Min(MaxDelay.Ticks, FirstDelay.Ticks << Math.Min(streak, 16)));

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var e in notifications.WatchAsync(stoppingToken))
            {
                if (e.Resource is not (ProjectResource or ExecutableResource))
                {
                    continue;
                }
                var replica = replicas.GetOrAdd(e.ResourceId, _ => new Replica());
                var state = e.Snapshot.State?.Text;
                lock (replica)
                {
                    if (state == KnownResourceStates.Running && e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy)
                    {
                        replica.HealthySince ??= DateTime.UtcNow;
                    }
                    else if (state != KnownResourceStates.Running)
                    {
                        if (replica.HealthySince is DateTime since && DateTime.UtcNow - since >= StableRun)
                        {
                            replica.Streak = 0;
                        }
                        replica.HealthySince = null;
                    }
                    // The dashboard's Stop goes through Stopping; a crash goes from Running straight to Exited/Finished.
                    if (state == KnownResourceStates.Stopping)
                    {
                        replica.StopRequested = true;
                    }
                    else if (state is not null && state != replica.LastState && (state == KnownResourceStates.Starting || state == KnownResourceStates.Running))
                    {
                        replica.StopRequested = false;
                    }
                    var crashed = (state == KnownResourceStates.Exited || state == KnownResourceStates.Finished)
                        && replica.LastState == KnownResourceStates.Running
                        && !replica.StopRequested && !replica.Restarting && !lifetime.ApplicationStopping.IsCancellationRequested;
                    replica.LastState = state;
                    if (!crashed)
                    {
                        continue;
                    }
                    replica.Restarting = true;
                }
                _ = RestartAsync(e, replica, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RestartAsync(ResourceEvent crashed, Replica replica, CancellationToken stoppingToken)
    {
        var delay = Delay(replica.Streak);
        try
        {
            logger.LogWarning("{Resource} exited ({ExitCode}); restarting in {Delay} s (restart {Count}).",
                crashed.ResourceId, crashed.Snapshot.ExitCode, delay.TotalSeconds, replica.Restarts + 1);
            await notifications.PublishUpdateAsync(crashed.Resource, crashed.ResourceId, s => s with
            {
                State = new ResourceStateSnapshot($"Restarting in {delay.TotalSeconds:0} s", KnownResourceStateStyles.Warn),
            });
            await Task.Delay(delay, stoppingToken);
            if (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return;
            }
            var result = await commands.ExecuteCommandAsync(crashed.ResourceId, KnownResourceCommands.StartCommand, stoppingToken);
            lock (replica)
            {
                replica.Streak++;
                replica.Restarts++;
            }
            if (!result.Success)
            {
                logger.LogError("Restarting {Resource} failed: {Error}", crashed.ResourceId, result.Message);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            logger.LogError(e, "Restarting {Resource} failed.", crashed.ResourceId);
        }
        finally
        {
            lock (replica)
            {
                replica.Restarting = false;
            }
        }
    }
}
