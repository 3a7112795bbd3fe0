using System.Globalization;

namespace Pipeline.Training.Progress;

/// <summary>Plain progress lines on a text writer (logs, CI); interactive terminals get a progress bar from the CLI.</summary>
public sealed class ConsoleSink(TextWriter writer) : ITrainingSink
{
    public void OnStep(StepProgress p) => writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"epoch {p.Epoch + 1} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} lr {p.Lr:G4} {p.SamplesPerSecond:F0} img/s eta {p.Eta:hh\\:mm\\:ss}"));

    public void OnEpoch(EpochResult r) => writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"epoch {r.Epoch + 1} done: train loss {r.TrainLoss:F4}, val loss {r.Validation.Loss:F4}, val accuracy {r.Validation.Accuracy:P2}{(r.IsBest ? " (best)" : "")} in {r.Elapsed.TotalSeconds:F1} s"));

    public void OnFinished(TrainingSummary s) => writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"finished ({s.Reason}) after {s.Epochs} epochs, {s.Steps} steps; best {s.Metric} {s.BestMetric:F4} at epoch {s.BestEpoch + 1}"));
}
