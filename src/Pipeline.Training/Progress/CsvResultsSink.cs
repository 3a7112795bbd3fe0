using System.Globalization;

namespace Pipeline.Training.Progress;

/// <summary>
/// <c>results.csv</c>: one row per epoch (epoch, step, train loss, validation loss/accuracy/F1, lr, seconds). Appends to an
/// existing file (a resumed run), writing the header only for a new one; flushes every row.
/// </summary>
public sealed class CsvResultsSink(string path) : ITrainingSink
{
    public const string Header = "epoch,step,train_loss,val_loss,val_accuracy,val_macro_f1,lr,is_best,seconds";

    public void OnStep(StepProgress progress) { }

    public void OnEpoch(EpochResult r)
    {
        var isNew = !File.Exists(path) || new FileInfo(path).Length == 0;
        using var writer = new StreamWriter(path, append: true);
        if (isNew) writer.WriteLine(Header);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.Epoch + 1},{r.Step},{r.TrainLoss:R},{r.Validation.Loss:R},{r.Validation.Accuracy:R},{r.Validation.MacroF1:R},{r.Lr:R},{(r.IsBest ? 1 : 0)},{r.Elapsed.TotalSeconds:F3}"));
    }

    public void OnFinished(TrainingSummary summary) { }
}
