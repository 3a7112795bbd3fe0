namespace Pipeline.Contracts.V1;

/// <summary>
/// Ingest this dataset and train on it. <paramref name="Source"/> is <c>blob:{container}/{name}</c> for an uploaded
/// archive or <c>path:{absolute path}</c> for a folder or archive the ingest service can read.
/// </summary>
public sealed record SubmitDataset(
    Guid JobId,
    string Source,
    string Task,
    string? Format,
    string? RecipeYaml,
    int Trainers,
    DateTimeOffset SubmittedAt);

/// <summary>Stop the job between steps; it ends Cancelled.</summary>
public sealed record CancelJob(Guid JobId, string Reason);
