namespace Pipeline.Contracts.V1;

/// <summary>Where a job is. Terminal: Succeeded, Failed, Cancelled.</summary>
public enum JobState
{
    Submitted,
    Ingesting,
    Ingested,
    Preprocessing,
    Prepared,
    Training,
    Evaluating,
    Succeeded,
    Failed,
    Cancelled,
}

public static class JobStates
{
    public static bool IsTerminal(this JobState state) => state is JobState.Succeeded or JobState.Failed or JobState.Cancelled;
}
