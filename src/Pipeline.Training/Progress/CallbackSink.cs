namespace Pipeline.Training.Progress;

/// <summary>Forwards progress to delegates (e.g. a service publishing events); any of them may be null.</summary>
public sealed class CallbackSink(Action<StepProgress>? onStep = null, Action<EpochResult>? onEpoch = null, Action<TrainingSummary>? onFinished = null)
    : ITrainingSink
{
    public void OnStep(StepProgress progress) => onStep?.Invoke(progress);
    public void OnEpoch(EpochResult result) => onEpoch?.Invoke(result);
    public void OnFinished(TrainingSummary summary) => onFinished?.Invoke(summary);
}
