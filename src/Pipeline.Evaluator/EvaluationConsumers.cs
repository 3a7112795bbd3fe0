using MassTransit;
using Pipeline.Artifacts;
using Pipeline.Contracts.V1;
using Pipeline.Storage;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Plotting;

namespace Pipeline.Evaluator;

/// <summary>
/// The <c>evaluator</c> queue: every stored checkpoint is evaluated on the validation split; when training completes,
/// the best model is evaluated on the test split, which ends the job. Reports go to <c>jobs/{id}/reports/</c>, the test
/// split's with its confusion matrix drawn as <c>confusion_matrix.png</c> and its one-vs-rest precision-recall curves
/// as <c>pr_curves.png</c>.
/// Idempotent: a redelivered message recomputes the same report and announces it again.
/// </summary>
public sealed class EvaluationConsumers(ModelEvaluator evaluator, JobArtifacts artifacts, ILogger<EvaluationConsumers> logger)
    : IConsumer<CheckpointSaved>, IConsumer<TrainingCompleted>
{
    public async Task Consume(ConsumeContext<CheckpointSaved> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var saved = context.Message;
        var (_, prefix) = BlobPaths.Split(saved.CheckpointBlob);
        var report = await EvaluateAsync(context, saved.JobId, prefix + "model.safetensors", "val").ConfigureAwait(false);
        if (report is null) return;
        var name = $"val-epoch-{saved.Epoch:D3}.json";
        await artifacts.UploadReportAsync(saved.JobId, name, report.ToJson(), context.CancellationToken).ConfigureAwait(false);
        var isBest = saved.TrainMetrics.TryGetValue("is_best", out var best) && best > 0;
        await context.Publish(new EvaluationCompleted(saved.JobId, saved.Epoch, "val", Metrics(report),
            $"{JobArtifacts.Container}/{JobArtifacts.ReportBlob(saved.JobId, name)}", isBest), context.CancellationToken).ConfigureAwait(false);
    }

    public async Task Consume(ConsumeContext<TrainingCompleted> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var completed = context.Message;
        var report = await EvaluateAsync(context, completed.JobId, JobArtifacts.ModelBlob(completed.JobId), "test").ConfigureAwait(false);
        if (report is null) return;
        await artifacts.UploadReportAsync(completed.JobId, "test.json", report.ToJson(), context.CancellationToken).ConfigureAwait(false);
        // Before EvaluationCompleted: the job succeeds with it, and everything of the job is stored by then.
        var picture = Charts.ConfusionMatrix(report.ConfusionMatrix, report.Classes, $"Test confusion matrix ({report.Count} images)").ToPng();
        await artifacts.UploadReportImageAsync(completed.JobId, ConfusionMatrixPicture, picture, context.CancellationToken).ConfigureAwait(false);
        var curves = Charts.PrecisionRecall(report, title: $"Test precision-recall, one vs rest ({report.Count} images)").ToPng();
        await artifacts.UploadReportImageAsync(completed.JobId, PrCurvesPicture, curves, context.CancellationToken).ConfigureAwait(false);
        logger.LogInformation("Job {JobId}: test accuracy {Accuracy:P2}", completed.JobId, report.Accuracy);
        await context.Publish(new EvaluationCompleted(completed.JobId, completed.Epochs, "test", Metrics(report),
            $"{JobArtifacts.Container}/{JobArtifacts.ReportBlob(completed.JobId, "test.json")}", true), context.CancellationToken).ConfigureAwait(false);
    }

    public const string ConfusionMatrixPicture = "confusion_matrix.png";
    public const string PrCurvesPicture = "pr_curves.png";

    private async Task<ClassificationReport?> EvaluateAsync(IPublishEndpoint bus, Guid job, string modelBlob, string split)
    {
        try
        {
            return await evaluator.EvaluateAsync(job, modelBlob, split, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or RecipeException or ArgumentException or Torch.TorchException or Storage.ArtifactNotFoundException)
        {
            logger.LogError(e, "Job {JobId}: evaluation of {Model} on {Split} failed", job, modelBlob, split);
            await bus.Publish(new JobFailed(job, "evaluate", $"{modelBlob} on {split}: {e.Message}")).ConfigureAwait(false);
            return null;
        }
    }

    private static Dictionary<string, double> Metrics(ClassificationReport report)
    {
        var metrics = new Dictionary<string, double>
        {
            ["accuracy"] = report.Accuracy,
            ["macro_f1"] = report.MacroF1,
            ["weighted_f1"] = report.WeightedF1,
        };
        if (report.Loss is { } loss) metrics["loss"] = loss;
        foreach (var (k, v) in report.TopK) metrics[$"top{k}"] = v;
        return metrics;
    }
}
