using System.Globalization;
using Pipeline.Training.Progress;
using Pipeline.Vision.Evaluation;

namespace Pipeline.Training.Detection;

/// <summary>One detection epoch: training loss, validation loss and report, the early-stopping metric.</summary>
public sealed record DetectionEpochResult(int Epoch, long Step, double TrainLoss, double ValidationLoss, double Lr, DetectionReport Validation,
    double Metric, bool IsBest, TimeSpan Elapsed);

/// <summary>How a detection run ended.</summary>
public sealed record DetectionTrainingSummary(StopReason Reason, int Epochs, long Steps, string Metric, double? BestMetric, int? BestEpoch,
    DetectionReport? LastValidation, TimeSpan Elapsed);

/// <summary>Receives detection training progress.</summary>
public interface IDetectionTrainingSink : IStepSink
{
    void OnEpoch(DetectionEpochResult result);
    void OnFinished(DetectionTrainingSummary summary);
}

/// <summary>
/// <c>results.csv</c> of a detection run: one row per epoch. Appends to an existing file (a resumed run), writing the
/// header only for a new one.
/// </summary>
public sealed class DetectionCsvResultsSink(string path) : IDetectionTrainingSink
{
    public const string Header = "epoch,step,train_loss,val_loss,val_map,val_map50,val_map75,lr,is_best,seconds";

    public void OnStep(StepProgress progress) { }

    public void OnEpoch(DetectionEpochResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var isNew = !File.Exists(path) || new FileInfo(path).Length == 0;
        using var writer = new StreamWriter(path, append: true);
        if (isNew) writer.WriteLine(Header);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.Epoch + 1},{r.Step},{r.TrainLoss:R},{r.ValidationLoss:R},{r.Validation.Map ?? double.NaN:R},{r.Validation.Map50 ?? double.NaN:R},{r.Validation.Map75 ?? double.NaN:R},{r.Lr:R},{(r.IsBest ? 1 : 0)},{r.Elapsed.TotalSeconds:F3}"));
    }

    public void OnFinished(DetectionTrainingSummary summary) { }
}

/// <summary>Progress as text lines: steps, epochs with mAP, the end.</summary>
public sealed class DetectionConsoleSink(TextWriter writer) : IDetectionTrainingSink
{
    public void OnStep(StepProgress p)
    {
        ArgumentNullException.ThrowIfNull(p);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch + 1} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} lr {p.Lr:G3} {p.SamplesPerSecond:F1} img/s eta {p.Eta:hh\\:mm\\:ss}"));
    }

    public void OnEpoch(DetectionEpochResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {r.Epoch + 1}: train loss {r.TrainLoss:F4} val loss {r.ValidationLoss:F4} map {r.Validation.Map ?? double.NaN:F4} map50 {r.Validation.Map50 ?? double.NaN:F4}{(r.IsBest ? " (best)" : "")} {r.Elapsed.TotalSeconds:F1}s"));
    }

    public void OnFinished(DetectionTrainingSummary s)
    {
        ArgumentNullException.ThrowIfNull(s);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"finished ({s.Reason}) after {s.Epochs} epochs, {s.Steps} steps; best {s.Metric} {s.BestMetric:F4} at epoch {(s.BestEpoch ?? -1) + 1}"));
    }
}
