namespace Pipeline.Hosting;

/// <summary>The AppHost's console: the resource table, then one line per state change, and a single
/// line once every resource is healthy (the line tests and users wait for).</summary>
internal sealed class ConsoleReporter(DistributedApplicationOptions options, ResourceRegistry registry)
{
    public const string AllHealthyLine = "All resources are healthy.";

    public void PrintResources()
    {
        Console.WriteLine($"Pipeline AppHost: run folder {options.RunDirectory}");
        foreach (var s in registry.Snapshots)
        {
            var name = s.ParentName is null ? s.InstanceName : $"  {s.InstanceName}";
            Console.WriteLine($"  {name,-20} {s.ResourceType,-12} {string.Join(" ", s.Endpoints)}");
        }
    }

    public async Task FollowAsync(CancellationToken cancellationToken)
    {
        var announced = false;
        var last = new Dictionary<string, ResourceState>();
        try
        {
            await foreach (var s in registry.WatchAsync(cancellationToken))
            {
                var changed = !last.TryGetValue(s.InstanceName, out var previous) || previous != s.State;
                last[s.InstanceName] = s.State;
                // Children (blobs) only mirror their parent: not worth a line of their own.
                if (changed && s.ParentName is null && s.State != ResourceState.NotStarted)
                {
                    var detail = s.Message is null ? "" : $" ({s.Message})";
                    var restarts = s.RestartCount > 0 ? $" [restarts: {s.RestartCount}]" : "";
                    Console.WriteLine($"  {DateTime.Now:HH:mm:ss} {s.InstanceName}: {s.State}{detail}{restarts}");
                }
                if (!announced && registry.Snapshots.All(x => x.State == ResourceState.Healthy))
                {
                    announced = true;
                    Console.WriteLine(AllHealthyLine + " Press Ctrl+C to stop.");
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The application stopped.
        }
    }
}
