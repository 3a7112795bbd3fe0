namespace Pipeline.Hosting;

/// <summary>Lifecycle of one process instance (a replica), or of a child resource mirroring its parent.</summary>
public enum ResourceState
{
    NotStarted,    // declared; waiting for dependencies or for its build
    Starting,      // being prepared and launched
    Running,       // process alive, not yet seen healthy
    Healthy,       // health check passing (or alive, when it has none)
    Unhealthy,     // was healthy, check now failing; the process still runs
    Exited,        // ended on its own; a restart follows
    FailedToStart, // could not be launched or built; not retried
    Restarting,    // waiting out the back-off before the next launch
    Finished,      // stopped by the AppHost
}

/// <summary>What a dashboard shows for one instance; immutable, replaced on each change.</summary>
public sealed record ResourceSnapshot(
    string InstanceName,
    string ResourceName,
    string ResourceType,
    int ReplicaIndex,
    ResourceState State,
    int RestartCount,
    int? ProcessId,
    int? ExitCode,
    IReadOnlyList<string> Endpoints,
    string? ParentName,
    string? Message,
    DateTimeOffset Timestamp)
{
    public bool IsTerminal => State is ResourceState.FailedToStart or ResourceState.Finished;
}
