using MassTransit;
using Pipeline.Artifacts;
using Pipeline.Contracts.V1;
using Pipeline.Training;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;

namespace Pipeline.Trainer;

/// <summary>
/// The <c>trainer</c> queue: trains a prepared dataset. The message stays unacknowledged while training runs, so a
/// trainer that dies has its job redelivered, and the next one resumes from the last stored checkpoint. A job whose
/// model is already stored is announced again, never trained twice.
/// </summary>
public sealed class DatasetPreparedConsumer(JobArtifacts artifacts, JobControl control, IConfiguration configuration, ILogger<DatasetPreparedConsumer> logger)
    : IConsumer<DatasetPrepared>
{
    public async Task Consume(ConsumeContext<DatasetPrepared> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var prepared = context.Message;
        var job = prepared.JobId;
        await artifacts.EnsureContainerAsync(context.CancellationToken).ConfigureAwait(false);
        if (await artifacts.IsCancelledAsync(job, context.CancellationToken).ConfigureAwait(false))
        {
            logger.LogInformation("Job {JobId} was cancelled before it was trained: skipped", job);
            return;
        }
        if (await artifacts.IsTrainedAsync(job, context.CancellationToken).ConfigureAwait(false))
        {
            logger.LogInformation("Job {JobId} is already trained: announcing it again", job);
            await context.Publish(new TrainingCompleted(job, 0, JobArtifacts.ModelBlob(job), false), context.CancellationToken).ConfigureAwait(false);
            return;
        }

        Recipe recipe;
        try
        {
            recipe = RecipeLoader.LoadText(prepared.RecipeYaml, "recipe.yaml");
        }
        catch (RecipeException e)
        {
            await context.Publish(new TrainingFailed(job, e.Message), context.CancellationToken).ConfigureAwait(false);
            return;
        }

        await artifacts.WriteJobInfoAsync(new JobArtifacts.JobInfo(job, prepared.Task, prepared.Classes, prepared.PreparedPrefix, prepared.RecipeYaml),
            context.CancellationToken).ConfigureAwait(false);
        var runFolder = Path.Combine(configuration["PIPELINE_DATA_DIR"] ?? Path.GetTempPath(), "jobs", job.ToString("N"));
        Directory.CreateDirectory(runFolder);
        var (token, why) = control.Register(job, context.CancellationToken);
        try
        {
            using var train = await artifacts.ReadShardAsync(prepared.PreparedPrefix, "train", token).ConfigureAwait(false);
            using var validation = await artifacts.ReadShardAsync(prepared.PreparedPrefix, "val", token).ConfigureAwait(false);
            var sink = new TrainingEventsSink(job, 0, context, artifacts, context.CancellationToken);
            using var trainer = new Training.Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = runFolder, Sinks = [sink] });
            var resumed = await artifacts.DownloadLatestCheckpointAsync(job, Path.Combine(runFolder, Training.Trainer.CheckpointFolder), token).ConfigureAwait(false);
            if (resumed is not null)
            {
                trainer.Resume(resumed);
                logger.LogInformation("Job {JobId} resumes from {Checkpoint}", job, resumed);
            }
            await context.Publish(new TrainingStarted(job, 1, [Environment.MachineName + "/" + (configuration["PIPELINE_REPLICA_INDEX"] ?? "0")], recipe.Epochs, DateTimeOffset.UtcNow), token).ConfigureAwait(false);

            // The loop is synchronous and long: off the consumer's thread, cancellable between steps.
            var summary = await Task.Run(() => trainer.Fit(token), CancellationToken.None).ConfigureAwait(false);
            if (summary.Reason == StopReason.Cancelled && why() != StopRequest.EarlyStop)
            {
                logger.LogInformation("Job {JobId} cancelled after {Steps} steps", job, summary.Steps);
                return;
            }
            var best = Path.Combine(runFolder, Training.Trainer.BestModelFile);
            if (!File.Exists(best)) throw new InvalidOperationException($"training of job {job} ended without a best model at {best}");
            await artifacts.UploadModelAsync(job, best, new { summary.Reason, summary.Epochs, summary.Steps, summary.Metric, summary.BestMetric, summary.BestEpoch },
                context.CancellationToken).ConfigureAwait(false);
            await context.Publish(new TrainingCompleted(job, summary.Epochs, JobArtifacts.ModelBlob(job),
                summary.Reason is StopReason.EarlyStopped || why() == StopRequest.EarlyStop), context.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or ArgumentException or Torch.TorchException)
        {
            logger.LogError(e, "Job {JobId} failed", job);
            await context.Publish(new TrainingFailed(job, e.Message), context.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            control.Unregister(job);
        }
    }
}

/// <summary>Cancellation and early-stop requests, heard by every trainer replica (each has its own queue).</summary>
public sealed class JobStopConsumer(JobControl control) : IConsumer<CancelJob>, IConsumer<StopTrainingEarly>
{
    public Task Consume(ConsumeContext<CancelJob> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        control.Stop(context.Message.JobId, StopRequest.Cancelled);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<StopTrainingEarly> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        control.Stop(context.Message.JobId, StopRequest.EarlyStop);
        return Task.CompletedTask;
    }
}
