namespace Pipeline.Hosting;

/// <summary>Runs the graph: registers every instance, starts each resource once what it waits for is
/// healthy (all concurrently, so independent resources start together), and stops them in reverse:
/// a resource only after everything that depends on it has stopped.</summary>
internal sealed class Orchestrator(DistributedApplicationOptions options, DistributedApplicationModel model, ResourceRegistry registry, ResourceLogs logs)
{
    private readonly CancellationTokenSource starting = new();
    private readonly CancellationTokenSource running = new();
    private readonly Dictionary<ProcessResource, List<ReplicaSupervisor>> supervisors = [];
    private readonly Dictionary<ProcessResource, Task> startTasks = [];
    private readonly SemaphoreSlim buildGate = new(1, 1);
    private Task? mirroring;

    public void Register()
    {
        foreach (var resource in model.Resources)
        {
            if (resource is ProcessResource p)
            {
                for (var i = 0; i < p.Replicas; i++)
                {
                    registry.Add(Snapshot(p.InstanceName(i), p.Name, p.TypeName, i, Endpoints(p, i), null));
                }
            }
            else if (resource is IResourceWithParent child)
            {
                var endpoints = resource is AzuriteBlobResource blobs ? new[] { blobs.Endpoint } : [];
                registry.Add(Snapshot(child.Name, child.Name, child.TypeName, 0, endpoints, child.Parent.Name));
            }
        }
    }

    public void Start()
    {
        mirroring = MirrorChildrenAsync(running.Token);
        foreach (var resource in model.ProcessResources)
        {
            startTasks[resource] = StartResourceAsync(resource, starting.Token);
        }
    }

    private async Task StartResourceAsync(ProcessResource resource, CancellationToken cancellationToken)
    {
        var context = new ResourceContext(options, model, resource);
        var log = logs[resource.InstanceName(0)];
        try
        {
            // Every resource runs this concurrently: a build overlaps its dependencies' start-up.
            await PrepareAsync(resource, context, log, cancellationToken);
            foreach (var dependency in resource.WaitsFor)
            {
                SetMessage(resource, $"waiting for {dependency.Name}");
                await registry.WaitForResourceHealthyAsync(dependency.Name, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception e)
        {
            log.Add(true, $"[apphost] {e.Message}");
            for (var i = 0; i < resource.Replicas; i++)
            {
                registry.Update(resource.InstanceName(i), s => s with { State = ResourceState.FailedToStart, Message = e.Message });
            }
            return;
        }

        var replicas = new List<ReplicaSupervisor>();
        for (var i = 0; i < resource.Replicas; i++)
        {
            var replica = i;
            var supervisor = new ReplicaSupervisor(
                resource, replica, context,
                () => LaunchEnvironment.Compose(resource, replica, resource.GetLaunch(context, replica)),
                registry, logs[resource.InstanceName(replica)]);
            replicas.Add(supervisor);
            supervisor.Start();
        }
        lock (supervisors)
        {
            supervisors[resource] = replicas;
        }
    }

    private async Task PrepareAsync(ProcessResource resource, ResourceContext context, LogRing log, CancellationToken cancellationToken)
    {
        SetMessage(resource, "preparing");
        Directory.CreateDirectory(context.DataDirectory);
        // Builds one at a time: concurrent builds of projects sharing references collide in obj/.
        var isBuild = resource is ProjectResource;
        if (isBuild)
        {
            await buildGate.WaitAsync(cancellationToken);
        }
        try
        {
            await resource.PrepareAsync(context, line => log.Add(false, line), cancellationToken);
        }
        finally
        {
            if (isBuild)
            {
                buildGate.Release();
            }
        }
    }

    private void SetMessage(ProcessResource resource, string message)
    {
        for (var i = 0; i < resource.Replicas; i++)
        {
            registry.Update(resource.InstanceName(i), s => s with { State = ResourceState.Starting, Message = message });
        }
    }

    public async Task StopAsync()
    {
        await starting.CancelAsync();
        await Task.WhenAll(startTasks.Values);
        var stopped = new Dictionary<ProcessResource, Task>();
        foreach (var resource in model.ProcessResources)
        {
            _ = StopTask(resource);
        }
        await Task.WhenAll(stopped.Values);
        // Safety net: anything of this run that a replica's own sweep could not attribute.
        await ProcessTree.KillMarkedAsync($"{ProcessTree.RunDirectoryVariable}={options.RunDirectory}");
        await running.CancelAsync();
        if (mirroring is not null)
        {
            await mirroring;
        }

        Task StopTask(ProcessResource resource)
        {
            if (!stopped.TryGetValue(resource, out var task))
            {
                var dependents = model.ProcessResources.Where(r => DistributedApplicationModel.Dependencies(r).Contains(resource));
                task = StopAfterAsync([.. dependents.Select(StopTask)], resource);
                stopped[resource] = task;
            }
            return task;
        }
    }

    private async Task StopAfterAsync(Task[] dependents, ProcessResource resource)
    {
        await Task.WhenAll(dependents);
        List<ReplicaSupervisor>? replicas;
        lock (supervisors)
        {
            supervisors.TryGetValue(resource, out replicas);
        }
        if (replicas is not null)
        {
            await Task.WhenAll(replicas.Select(r => r.StopAsync()));
        }
    }

    /// <summary>A child (blobs) has no process: it shows its parent's state.</summary>
    private async Task MirrorChildrenAsync(CancellationToken cancellationToken)
    {
        var children = model.Resources.OfType<IResourceWithParent>().ToList();
        if (children.Count == 0)
        {
            return;
        }
        try
        {
            await foreach (var s in registry.WatchAsync(cancellationToken))
            {
                foreach (var child in children.Where(c => c.Parent.Name == s.ResourceName))
                {
                    registry.Update(child.Name, c => c with { State = s.State, Message = s.Message, RestartCount = s.RestartCount });
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping: the final states are set below.
        }
        foreach (var child in children)
        {
            registry.Update(child.Name, c => c with { State = ResourceState.Finished, Message = "stopped" });
        }
    }

    private static string[] Endpoints(ProcessResource resource, int replica) =>
        [.. resource.Endpoints.Where(e => !e.IsInternal).Select(e => e.Url(replica))];

    private static ResourceSnapshot Snapshot(string instance, string resource, string type, int replica, string[] endpoints, string? parent) =>
        new(instance, resource, type, replica, ResourceState.NotStarted, 0, null, null, endpoints, parent, null, DateTimeOffset.UtcNow);
}
