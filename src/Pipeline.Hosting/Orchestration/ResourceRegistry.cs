using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Pipeline.Hosting;

/// <summary>The in-process registry of every instance's current snapshot, with an event stream:
/// the seam the dashboard renders from (like Aspire's ResourceNotificationService).</summary>
public sealed class ResourceRegistry
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, ResourceSnapshot> snapshots = new(StringComparer.Ordinal);
    private readonly List<string> order = [];
    private readonly List<Channel<ResourceSnapshot>> subscribers = [];

    /// <summary>Every instance in declaration order.</summary>
    public IReadOnlyList<ResourceSnapshot> Snapshots
    {
        get
        {
            lock (gate)
            {
                return [.. order.Select(n => snapshots[n])];
            }
        }
    }

    public ResourceSnapshot Get(string instanceName)
    {
        lock (gate)
        {
            return snapshots.TryGetValue(instanceName, out var s) ? s : throw new KeyNotFoundException($"No instance named '{instanceName}'.");
        }
    }

    /// <summary>The instances (replicas) of a resource.</summary>
    public IReadOnlyList<ResourceSnapshot> Instances(string resourceName) =>
        [.. Snapshots.Where(s => s.ResourceName == resourceName)];

    internal void Add(ResourceSnapshot snapshot)
    {
        lock (gate)
        {
            order.Add(snapshot.InstanceName);
        }
        Publish(snapshot);
    }

    internal ResourceSnapshot Update(string instanceName, Func<ResourceSnapshot, ResourceSnapshot> change)
    {
        ResourceSnapshot updated;
        lock (gate)
        {
            updated = change(snapshots[instanceName]) with { Timestamp = DateTimeOffset.UtcNow };
        }
        Publish(updated);
        return updated;
    }

    private void Publish(ResourceSnapshot snapshot)
    {
        lock (gate)
        {
            snapshots[snapshot.InstanceName] = snapshot;
            // Written under the lock so that every subscriber sees changes in the same order.
            foreach (var s in subscribers)
            {
                s.Writer.TryWrite(snapshot);
            }
        }
    }

    /// <summary>Every current snapshot, then each change as it happens.</summary>
    public async IAsyncEnumerable<ResourceSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<ResourceSnapshot>(new UnboundedChannelOptions { SingleReader = true });
        lock (gate)
        {
            foreach (var name in order)
            {
                channel.Writer.TryWrite(snapshots[name]);
            }
            subscribers.Add(channel);
        }
        try
        {
            await foreach (var s in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return s;
            }
        }
        finally
        {
            lock (gate)
            {
                subscribers.Remove(channel);
            }
        }
    }

    /// <summary>Waits until the instances of a resource satisfy a condition.</summary>
    public async Task<IReadOnlyList<ResourceSnapshot>> WaitForResourceAsync(
        string resourceName, Func<IReadOnlyList<ResourceSnapshot>, bool> condition, CancellationToken cancellationToken = default)
    {
        await foreach (var s in WatchAsync(cancellationToken))
        {
            if (s.ResourceName != resourceName)
            {
                continue;
            }
            var instances = Instances(resourceName);
            if (instances.Count > 0 && condition(instances))
            {
                return instances;
            }
        }
        throw new OperationCanceledException(cancellationToken);
    }

    /// <summary>Waits until every replica is healthy; fails fast when one cannot start.</summary>
    public async Task WaitForResourceHealthyAsync(string resourceName, CancellationToken cancellationToken = default)
    {
        var instances = await WaitForResourceAsync(
            resourceName,
            all => all.All(i => i.State == ResourceState.Healthy) || all.Any(i => i.IsTerminal),
            cancellationToken);
        if (instances.FirstOrDefault(i => i.State != ResourceState.Healthy) is { } failed)
        {
            throw new InvalidOperationException($"Resource '{failed.InstanceName}' is {failed.State}: {failed.Message}");
        }
    }
}
