namespace Pipeline.Contracts.V1;

/// <summary>Every job event carries the job it belongs to.</summary>
public interface IJobEvent
{
    Guid JobId { get; }
}

/// <summary>The dataset is validated and stored: raw files under <paramref name="RawPrefix"/>, its manifest and report beside.</summary>
public sealed record DatasetIngested(
    Guid JobId,
    string DatasetId,
    string Task,
    string Format,
    IReadOnlyList<string> Classes,
    string ManifestBlob,
    string ReportBlob,
    string RawPrefix,
    string RecipeYaml,
    int Trainers) : IJobEvent;

/// <summary>Preprocessing of the job's dataset has begun.</summary>
public sealed record PreprocessingStarted(Guid JobId, string DatasetId) : IJobEvent;

/// <summary>Training shards are written under <paramref name="PreparedPrefix"/> (one per split).</summary>
public sealed record DatasetPrepared(
    Guid JobId,
    string DatasetId,
    string Task,
    IReadOnlyList<string> Classes,
    string PreparedPrefix,
    IReadOnlyDictionary<string, long> SplitCounts,
    string RecipeYaml,
    int Trainers) : IJobEvent;

/// <summary>The job's training group formed (again, after a lost member: a higher <paramref name="Attempt"/>) and starts
/// or resumes training; <paramref name="Members"/> by rank. <paramref name="ResumedFromStep"/> is the optimizer step of
/// the stored checkpoint it continues from (0: from the start). <paramref name="Note"/> says why the group differs from
/// what the job asked for, if it does (a detect job trains in one process).</summary>
public sealed record TrainingStarted(Guid JobId, int WorldSize, IReadOnlyList<string> Members, int Epochs, DateTimeOffset StartedAt, int Attempt = 1,
    long ResumedFromStep = 0, string? Note = null) : IJobEvent;

/// <summary>Attempt <paramref name="Attempt"/>'s group of <paramref name="WorldSize"/> broke up (a member was lost or
/// never came); the leader re-forms it from the last checkpoint.</summary>
public sealed record TrainingGroupLost(Guid JobId, int Attempt, int WorldSize, string Reason) : IJobEvent;

/// <summary>Progress from one rank, every few steps.</summary>
public sealed record TrainingProgress(
    Guid JobId,
    int Rank,
    int Epoch,
    long Step,
    long TotalSteps,
    double Loss,
    double LearningRate,
    double SamplesPerSecond,
    TimeSpan? Eta) : IJobEvent;

/// <summary>A checkpoint of the end of <paramref name="Epoch"/> is in the store. Epochs in job events are numbered from 1
/// (the number of epochs completed).</summary>
public sealed record CheckpointSaved(Guid JobId, int Epoch, long Step, string CheckpointBlob, IReadOnlyDictionary<string, double> TrainMetrics) : IJobEvent;

public sealed record TrainingCompleted(Guid JobId, int Epochs, string LastCheckpointBlob, bool StoppedEarly) : IJobEvent;

public sealed record TrainingFailed(Guid JobId, string Reason) : IJobEvent;

/// <summary>Metrics of one checkpoint on one split; <paramref name="IsBest"/> when it is the best so far by the recipe's metric.</summary>
public sealed record EvaluationCompleted(
    Guid JobId,
    int Epoch,
    string Split,
    IReadOnlyDictionary<string, double> Metrics,
    string ReportBlob,
    bool IsBest) : IJobEvent;

/// <summary>The evaluator asks the trainers to stop: the metric has not improved for the recipe's patience since
/// <paramref name="BestEpoch"/> (numbered from 1, as the checkpoints').</summary>
public sealed record StopTrainingEarly(Guid JobId, int BestEpoch, string Reason) : IJobEvent;

/// <summary>The job registry's record of a state change, for dashboards and CLIs.</summary>
public sealed record JobStatusChanged(Guid JobId, JobState State, string? Reason, DateTimeOffset At) : IJobEvent;

/// <summary>A stage other than training could not do its part; the job ends Failed with the reason.</summary>
public sealed record JobFailed(Guid JobId, string Stage, string Reason) : IJobEvent;
