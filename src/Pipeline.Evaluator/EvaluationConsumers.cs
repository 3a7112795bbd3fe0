using MassTransit;
using Pipeline.Artifacts;
using Pipeline.Contracts.V1;
using Pipeline.Storage;
using Pipeline.Training.Recipes;

namespace Pipeline.Evaluator;

/// <summary>
/// The <c>evaluator</c> queue: every stored checkpoint is evaluated on the validation split; when training completes,
/// the best model is evaluated on the test split, which ends the job. Reports go to <c>jobs/{id}/reports/</c>, the test
/// split's with its pictures: the confusion matrix (<c>confusion_matrix.png</c>) and the precision-recall curves
/// (<c>pr_curves.png</c>), one-vs-rest for a classifier, at IoU .5 for a detector.
/// Idempotent: a redelivered message recomputes the same report and announces it again.
/// </summary>
public sealed class EvaluationConsumers(ModelEvaluator evaluator, JobArtifacts artifacts, ILogger<EvaluationConsumers> logger)
    : IConsumer<CheckpointSaved>, IConsumer<TrainingCompleted>
{
    public async Task Consume(ConsumeContext<CheckpointSaved> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var saved = context.Message;
        if (await SkipCancelledAsync(saved.JobId, $"checkpoint of epoch {saved.Epoch}", context.CancellationToken).ConfigureAwait(false)) return;
        var (_, prefix) = BlobPaths.Split(saved.CheckpointBlob);
        var report = await EvaluateAsync(context, saved.JobId, prefix + "model.safetensors", "val").ConfigureAwait(false);
        if (report is null) return;
        var name = $"val-epoch-{saved.Epoch:D3}.json";
        await artifacts.UploadReportAsync(saved.JobId, name, report.ToJson(), context.CancellationToken).ConfigureAwait(false);
        var metrics = report.Metrics();
        await artifacts.UploadValidationMetricsAsync(saved.JobId, saved.Epoch, metrics, context.CancellationToken).ConfigureAwait(false);
        var isBest = saved.TrainMetrics.TryGetValue("is_best", out var best) && best > 0;
        await context.Publish(new EvaluationCompleted(saved.JobId, saved.Epoch, "val", metrics,
            $"{JobArtifacts.Container}/{JobArtifacts.ReportBlob(saved.JobId, name)}", isBest), context.CancellationToken).ConfigureAwait(false);
        await StopEarlyIfDueAsync(context, saved.JobId, report.EarlyStopping).ConfigureAwait(false);
    }

    // The recipe's early-stopping rule over every validation epoch evaluated so far: once the metric has not improved for
    // `patience` epochs, the trainers are told to stop (they finish with the best model so far). Checkpoints of epochs the
    // trainers ran before hearing it ask again, which changes nothing.
    private async Task StopEarlyIfDueAsync(ConsumeContext context, Guid job, EarlyStoppingRecipe rule)
    {
        if (rule.Patience is null) return;
        var epochs = await artifacts.ReadValidationMetricsAsync(job, context.CancellationToken).ConfigureAwait(false);
        // Epochs are numbered from 1. Only an unbroken run of them counts: a checkpoint evaluated out of order waits for
        // the ones before it.
        var history = new List<double>();
        foreach (var (epoch, metrics) in epochs)
        {
            if (epoch != history.Count + 1) break;
            history.Add(metrics.TryGetValue(rule.Metric, out var value) ? value : double.NaN);
        }
        var (best, since) = Training.EarlyStopping.Track(rule, history);
        if (!Training.EarlyStopping.PatienceRanOut(rule, since)) return;
        var bestEpoch = best + 1;
        var reason = $"validation {rule.Metric} has not improved for {since} epoch(s) since epoch {bestEpoch} (patience {rule.Patience})";
        logger.LogInformation("Job {JobId}: stopping early: {Reason}", job, reason);
        await context.Publish(new StopTrainingEarly(job, bestEpoch, reason), context.CancellationToken).ConfigureAwait(false);
    }

    public async Task Consume(ConsumeContext<TrainingCompleted> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var completed = context.Message;
        if (await SkipCancelledAsync(completed.JobId, "final model", context.CancellationToken).ConfigureAwait(false)) return;
        var report = await EvaluateAsync(context, completed.JobId, JobArtifacts.ModelBlob(completed.JobId), "test").ConfigureAwait(false);
        if (report is null) return;
        await artifacts.UploadReportAsync(completed.JobId, "test.json", report.ToJson(), context.CancellationToken).ConfigureAwait(false);
        // Before EvaluationCompleted: the job succeeds with it, and everything of the job is stored by then.
        foreach (var (pictureName, picture) in report.Pictures())
            await artifacts.UploadReportImageAsync(completed.JobId, pictureName, picture, context.CancellationToken).ConfigureAwait(false);
        logger.LogInformation("Job {JobId}: test {Summary}", completed.JobId, report.Summary());
        await context.Publish(new EvaluationCompleted(completed.JobId, completed.Epochs, "test", report.Metrics(),
            $"{JobArtifacts.Container}/{JobArtifacts.ReportBlob(completed.JobId, "test.json")}", true), context.CancellationToken).ConfigureAwait(false);
    }

    // A cancelled job is over: nothing of it is evaluated or reported any more (its state stays Cancelled).
    private async Task<bool> SkipCancelledAsync(Guid job, string what, CancellationToken cancellationToken)
    {
        if (!await artifacts.IsCancelledAsync(job, cancellationToken).ConfigureAwait(false)) return false;
        logger.LogInformation("Job {JobId} was cancelled: its {What} is not evaluated", job, what);
        return true;
    }

    private async Task<ModelEvaluation?> EvaluateAsync(IPublishEndpoint bus, Guid job, string modelBlob, string split)
    {
        try
        {
            return await evaluator.EvaluateAsync(job, modelBlob, split, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or RecipeException or ArgumentException or System.Runtime.InteropServices.ExternalException or Storage.ArtifactNotFoundException)
        {
            logger.LogError(e, "Job {JobId}: evaluation of {Model} on {Split} failed", job, modelBlob, split);
            await bus.Publish(new JobFailed(job, "evaluate", $"{modelBlob} on {split}: {e.Message}")).ConfigureAwait(false);
            return null;
        }
    }
}
