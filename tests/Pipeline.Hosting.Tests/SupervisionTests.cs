using Pipeline.Hosting.Testing;

namespace Pipeline.Hosting.Tests;

/// <summary>Supervision rules on small graphs of plain executables (seconds each, no broker).</summary>
public sealed class SupervisionTests
{
    [Fact]
    public async Task Stop_kills_whole_process_trees_including_children_that_left_the_group()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        // `setsid sleep` leaves the process group like epmd's daemon does; the marker sweep must still find it.
        var server = builder.AddExecutable("server", "bash", ".", "-c", "setsid sleep 601 & sleep 602 & wait");
        builder.AddExecutable("client", "bash", ".", "-c", "sleep 603 & wait").WithReference(server).WaitFor(server);
        await using var app = await builder.BuildAsync();
        await app.StartAsync();
        await app.Resources.WaitForResourceHealthyAsync("client");
        // 2 bash, 3 sleep (forked in the background, so give them a moment).
        for (var i = 0; i < 40 && ProcessScan.Find(app.RunDirectory).Count < 5; i++)
        {
            await Task.Delay(50);
        }
        Assert.Equal(5, ProcessScan.Find(app.RunDirectory).Count);

        var stopOrder = new List<string>();
        var watching = Task.Run(async () =>
        {
            await foreach (var s in app.Resources.WatchAsync())
            {
                if (s.State == ResourceState.Finished)
                {
                    stopOrder.Add(s.InstanceName);
                }
                if (stopOrder.Count == 2)
                {
                    return;
                }
            }
        });
        await app.StopAsync();
        await watching.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(["client", "server"], stopOrder); // reverse dependency order
        Assert.Empty(ProcessScan.Find(app.RunDirectory)); // StopAsync returns only once all are gone
    }

    [Fact]
    public async Task A_crashing_process_is_restarted_with_growing_back_off()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        builder.AddExecutable("crasher", "bash", ".", "-c", "echo crashing; exit 3");
        await using var app = await builder.BuildAsync();
        await app.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var restarting = new List<ResourceSnapshot>();
        await foreach (var s in app.Resources.WatchAsync(timeout.Token))
        {
            if (s.State == ResourceState.Exited)
            {
                Assert.Equal(3, s.ExitCode);
            }
            if (s.State == ResourceState.Restarting)
            {
                restarting.Add(s);
            }
            if (restarting.Count == 3)
            {
                break;
            }
        }
        Assert.Equal([0, 1, 2], restarting.Select(s => s.RestartCount));
        Assert.Equal(["restarting in 1 s", "restarting in 2 s", "restarting in 4 s"], restarting.Select(s => s.Message));
        Assert.Equal(3, app.Logs["crasher"].Snapshot().Count(l => l.Text == "crashing"));
        await app.StopAsync();
        Assert.Equal(ResourceState.Finished, app.Resources.Get("crasher").State);
    }

    [Fact]
    public async Task A_missing_command_fails_to_start_and_so_does_what_waits_for_it()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        var missing = builder.AddExecutable("missing", "no-such-command-here", ".");
        builder.AddExecutable("dependent", "sleep", ".", "600").WaitFor(missing);
        await using var app = await builder.BuildAsync();
        await app.StartAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.Resources.WaitForResourceHealthyAsync("missing"));
        Assert.Contains("no-such-command-here", error.Message, StringComparison.Ordinal);
        await app.Resources.WaitForResourceAsync("dependent", s => s[0].State == ResourceState.FailedToStart).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("missing", app.Resources.Get("dependent").Message, StringComparison.Ordinal);
        await app.StopAsync();
    }

    [Fact]
    public void A_dependency_cycle_is_rejected_when_building()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        var a = builder.AddExecutable("a", "sleep", ".", "1");
        var b = builder.AddExecutable("b", "sleep", ".", "1").WaitFor(a);
        a.WaitFor(b);
        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.Equal("Dependency cycle: a -> b -> a.", error.Message);
    }
}
