using System.Collections.Concurrent;

namespace Pipeline.Trainer;

/// <summary>Why a running job should stop between steps.</summary>
public enum StopRequest { None, Cancelled, EarlyStop }

/// <summary>The jobs this replica is training, so that a cancellation or an early-stop request can reach them.</summary>
public sealed class JobControl
{
    private readonly ConcurrentDictionary<Guid, (CancellationTokenSource Source, StopRequest[] Request)> running = new();

    public (CancellationToken Token, Func<StopRequest> Reason) Register(Guid job, CancellationToken outer)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        var request = new[] { StopRequest.None };
        running[job] = (source, request);
        return (source.Token, () => request[0]);
    }

    public void Unregister(Guid job)
    {
        if (running.TryRemove(job, out var entry)) entry.Source.Dispose();
    }

    /// <summary>Asks a running job to stop; false when this replica is not training it.</summary>
    public bool Stop(Guid job, StopRequest why)
    {
        if (!running.TryGetValue(job, out var entry)) return false;
        entry.Request[0] = why;
        entry.Source.Cancel();
        return true;
    }
}
