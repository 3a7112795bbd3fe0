using Pipeline.Vision.Evaluation;

namespace Pipeline.Training.Progress;

/// <summary>Progress of training: every <c>log_every</c> optimizer steps, at the run's first step, at each epoch's last
/// and at least every <see cref="BaseTrainer{TSink, TReport}.ProgressIntervalSeconds"/>.</summary>
/// <param name="Epoch">0-based epoch</param>
/// <param name="Step">optimizer steps taken in the whole run</param>
/// <param name="TotalSteps">optimizer steps the run will take if it is not stopped early</param>
/// <param name="Loss">mean training loss since the previous report</param>
/// <param name="Lr">the first parameter group's learning rate</param>
/// <param name="SamplesPerSecond">training images per second since the previous report</param>
/// <param name="Eta">estimated time left for the training steps (validation excluded)</param>
public sealed record StepProgress(int Epoch, long Step, long TotalSteps, double Loss, double Lr, double SamplesPerSecond, TimeSpan Eta);

/// <summary>One epoch's outcome: training loss and the validation report.</summary>
public sealed record EpochResult(int Epoch, long Step, double TrainLoss, double Lr, ClassificationReport Validation, double Metric,
    bool IsBest, TimeSpan Elapsed);

public enum StopReason { Completed, EarlyStopped, StepLimit, Cancelled }

/// <summary>How a run ended.</summary>
public sealed record TrainingSummary(StopReason Reason, int Epochs, long Steps, string Metric, double? BestMetric, int? BestEpoch,
    ClassificationReport? LastValidation, TimeSpan Elapsed);

/// <summary>A complete checkpoint is on disk at <paramref name="Folder"/>: after <paramref name="Epoch"/> whole epochs and
/// <paramref name="Step"/> optimizer steps; <paramref name="Final"/> for the run's last one.</summary>
public sealed record CheckpointWritten(string Folder, int Epoch, long Step, bool Final);

/// <summary>What every task's training reports: its steps and its checkpoints.</summary>
public interface IStepSink
{
    void OnStep(StepProgress progress);

    /// <summary>A checkpoint was written (e.g. to copy it to an artifact store); most sinks ignore it.</summary>
    void OnCheckpoint(CheckpointWritten checkpoint) { }
}

/// <summary>Receives a classifier's training progress: a console bar, a results file, a service's event publisher.</summary>
public interface ITrainingSink : IStepSink
{
    void OnEpoch(EpochResult result);
    void OnFinished(TrainingSummary summary);
}
