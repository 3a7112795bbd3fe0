using MassTransit;
using Pipeline.Artifacts;
using Pipeline.Contracts.V1;
using Pipeline.Training.Detection;
using Pipeline.Training.Progress;

namespace Pipeline.Trainer;

/// <summary>
/// Turns the training loop's progress (a classifier's or a detector's) into job events: step progress, and after each
/// checkpoint an upload to the store and <see cref="CheckpointSaved"/> carrying that epoch's metrics. Runs on the
/// training thread, so it waits for each publish: a checkpoint is announced only once it is stored.
/// </summary>
/// <param name="cancelled">Whether the user cancelled the job: a cancelled job's closing checkpoint is neither stored nor
/// announced (the evaluator would evaluate a job nobody wants any more).</param>
public sealed class TrainingEventsSink(Guid job, int rank, IPublishEndpoint bus, JobArtifacts artifacts, Func<bool> cancelled, CancellationToken cancellationToken)
    : ITrainingSink, IDetectionTrainingSink
{
    // The last epoch's metrics, announced with the checkpoint that follows it.
    private Dictionary<string, double>? lastEpoch;
    private bool lastEpochIsBest;
    private long? lastStoredStep;

    public void OnStep(StepProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        Wait(bus.Publish(new TrainingProgress(job, rank, progress.Epoch, progress.Step, progress.TotalSteps, progress.Loss, progress.Lr,
            progress.SamplesPerSecond, progress.Eta), cancellationToken));
    }

    public void OnEpoch(EpochResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        lastEpochIsBest = result.IsBest;
        lastEpoch = new()
        {
            ["train_loss"] = result.TrainLoss,
            ["lr"] = result.Lr,
            ["val_accuracy"] = result.Validation.Accuracy,
            ["val_loss"] = result.Validation.Loss ?? double.NaN,
        };
    }

    public void OnEpoch(DetectionEpochResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        lastEpochIsBest = result.IsBest;
        lastEpoch = new()
        {
            ["train_loss"] = result.TrainLoss,
            ["lr"] = result.Lr,
            ["val_map"] = result.Validation.Map ?? double.NaN,
            ["val_map50"] = result.Validation.Map50 ?? double.NaN,
            ["val_loss"] = result.ValidationLoss,
        };
    }

    public void OnFinished(TrainingSummary summary) { }

    public void OnFinished(DetectionTrainingSummary summary) { }

    public void OnCheckpoint(CheckpointWritten checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        // The run's final checkpoint repeats the last epoch's when training ran to the end: store each step once.
        if (checkpoint.Step == lastStoredStep) return;
        // The cancel may have reached another replica only: the job's cancelled mark in the store is the record.
        if (cancelled() || Wait(artifacts.IsCancelledAsync(job, cancellationToken))) return;
        lastStoredStep = checkpoint.Step;
        var prefix = Wait(artifacts.UploadCheckpointAsync(job, checkpoint.Folder, checkpoint.Epoch, checkpoint.Step, cancellationToken));
        // The run folder is the checkpoints folder's parent; its best model is what a take-over must not lose.
        var best = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(checkpoint.Folder)!)!, Training.Trainer.BestModelFile);
        if (lastEpoch is not null && lastEpochIsBest && File.Exists(best)) Wait(artifacts.UploadBestSoFarAsync(job, best, cancellationToken));
        var metrics = new Dictionary<string, double>();
        if (lastEpoch is { } e)
        {
            foreach (var (name, value) in e) metrics[name] = value;
            // The recipe's metric decides which epoch is best; the loop knows it.
            metrics["is_best"] = lastEpochIsBest ? 1 : 0;
        }
        Wait(bus.Publish(new CheckpointSaved(job, checkpoint.Epoch, checkpoint.Step, $"{JobArtifacts.Container}/{prefix}", metrics), cancellationToken));
    }

    private static void Wait(Task task) => task.GetAwaiter().GetResult();
    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
