namespace Pipeline.Contracts.V1;

/// <summary>
/// Ingest this dataset and train on it. <paramref name="Source"/> is <c>blob:{container}/{name}</c> for an uploaded
/// archive or <c>path:{absolute path}</c> for a folder or archive the ingest service can read. <paramref name="Task"/>
/// is <c>classify</c>, <c>detect</c>, or <see cref="AutoTask"/>: the task the dataset's format implies.
/// </summary>
public sealed record SubmitDataset(
    Guid JobId,
    string Source,
    string Task,
    string? Format,
    string? RecipeYaml,
    int Trainers,
    DateTimeOffset SubmittedAt)
{
    public const string AutoTask = "auto";

    /// <summary>How messages name a <paramref name="source"/> to its user: the path as given, or an upload by its own
    /// file name (not the services' temporary copies).</summary>
    public static string SourceDisplayName(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.StartsWith("path:", StringComparison.Ordinal)) return source["path:".Length..];
        return source.StartsWith("blob:", StringComparison.Ordinal) ? source[(source.LastIndexOf('/') + 1)..] : source;
    }
}

/// <summary>Stop the job between steps; it ends Cancelled.</summary>
public sealed record CancelJob(Guid JobId, string Reason);

/// <summary>
/// Join job <paramref name="JobId"/>'s data-parallel group as <paramref name="Rank"/> of <paramref name="WorldSize"/>:
/// rendezvous on the leader's store (Pipeline.Distributed's, bound to that address) at <paramref name="MasterAddr"/>:<paramref name="MasterPort"/>. Sent by the
/// trainer replica that leads the job (rank 0) to the trainer queue, so an idle replica takes it. An invitation of an
/// earlier <paramref name="Attempt"/> finds no one at the address and is dropped. <paramref name="Task"/> is the job's
/// (<c>classify</c> or <c>detect</c>): the recipe is read under that task's defaults, as the leader read it.
/// </summary>
public sealed record JoinTrainingGroup(
    Guid JobId,
    int Attempt,
    int Rank,
    int WorldSize,
    string MasterAddr,
    int MasterPort,
    string PreparedPrefix,
    IReadOnlyList<string> Classes,
    string RecipeYaml,
    string Task = "classify");
