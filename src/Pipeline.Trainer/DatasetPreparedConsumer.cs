using Pipeline.Distributed;
using MassTransit;
using Pipeline.Artifacts;
using Pipeline.Contracts.V1;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;
using Pipeline.Training;
using Pipeline.Training.Distributed;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;

namespace Pipeline.Trainer;

/// <summary>
/// The <c>trainer</c> queue: trains a prepared dataset. The message stays unacknowledged while training runs, so a
/// trainer that dies has its job redelivered, and the next one resumes from the last stored checkpoint. A job whose
/// model is already stored is announced again, never trained twice. A job, classify or detect, trains as a data-parallel
/// group of the trainers it asks for.
/// </summary>
public sealed class DatasetPreparedConsumer(JobArtifacts artifacts, JobControl control, RankRun ranks, ILogger<DatasetPreparedConsumer> logger)
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
            recipe = TaskRecipes.LoadText(prepared.Task, prepared.RecipeYaml, "recipe.yaml");
        }
        catch (RecipeException e)
        {
            await context.Publish(new TrainingFailed(job, e.Message), context.CancellationToken).ConfigureAwait(false);
            return;
        }

        await artifacts.WriteJobInfoAsync(new JobArtifacts.JobInfo(job, prepared.Task, prepared.Classes, prepared.PreparedPrefix, prepared.RecipeYaml),
            context.CancellationToken).ConfigureAwait(false);
        var (token, why) = control.Register(job, context.CancellationToken);
        bool Cancelled() => why() == StopRequest.Cancelled;
        try
        {
            // This replica leads the job as rank 0. A group that breaks (a member lost, or one that never came) is
            // re-formed with one member fewer, from the last stored checkpoint, until it is this replica alone.
            var world = Math.Max(1, prepared.Trainers);
            while (true)
            {
                // Numbered across deliveries: a job redelivered after its trainer died starts its next attempt, not a first.
                var attempt = await artifacts.NextAttemptAsync(job, token).ConfigureAwait(false);
                DistributedSettings? group = null;
                if (world > 1)
                {
                    group = new DistributedSettings(0, world, ranks.Address, DistributedSettings.FreePort(), ranks.GroupTimeout);
                    for (var r = 1; r < world; r++)
                        await context.Publish(new JoinTrainingGroup(job, attempt, r, world, group.MasterAddr, group.MasterPort, prepared.PreparedPrefix,
                            prepared.Classes, prepared.RecipeYaml, prepared.Task), token).ConfigureAwait(false);
                }
                var size = world;
                var currentAttempt = attempt;
                // Fewer members than asked for is said in the job's history, never done silently.
                var fewer = world < prepared.Trainers
                    ? $"{prepared.Trainers} trainers were asked for; the group could not keep them all and trains as {world}"
                    : null;
                TrainingSummary summary;
                string runFolder;
                try
                {
                    (summary, runFolder) = await ranks.RunAsync(new RankAssignment(job, prepared.PreparedPrefix, prepared.Classes, recipe, group), context,
                        (members, step) => context.Publish(new TrainingStarted(job, size, members, recipe.Epochs, DateTimeOffset.UtcNow, currentAttempt, step, fewer), token),
                        Cancelled, token, context.CancellationToken).ConfigureAwait(false);
                }
                catch (DistributedException e) when (world > 1)
                {
                    logger.LogWarning("Job {JobId}: the group of {World} broke up ({Reason}); re-forming with {Next} from the last checkpoint", job, world, e.Message, world - 1);
                    await context.Publish(new TrainingGroupLost(job, attempt, world, e.Message), context.CancellationToken).ConfigureAwait(false);
                    world--;
                    continue;
                }
                await FinishAsync(context, job, summary, runFolder, why).ConfigureAwait(false);
                return;
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested && why() == StopRequest.None)
        {
            // Neither a user's cancel nor an early stop: the delivery itself ended (the broker connection dropped, or this
            // replica is stopping). The message stays unacknowledged, so the broker hands the job out again and whoever
            // takes it resumes from the last stored checkpoint; acknowledging it would lose the job.
            logger.LogWarning("Job {JobId}: its delivery ended while training; the broker will hand it out again and it resumes from the last stored checkpoint", job);
            throw;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or ArgumentException or System.Runtime.InteropServices.ExternalException)
        {
            logger.LogError(e, "Job {JobId} failed", job);
            await context.Publish(new TrainingFailed(job, e.Message), context.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            control.Unregister(job);
        }
    }

    /// <summary>Stores the best model and announces the end of training, unless the user cancelled the job. A stop that
    /// nobody asked for is the delivery ending (handled by the caller: the job stays unacknowledged).</summary>
    private async Task FinishAsync(ConsumeContext context, Guid job, TrainingSummary summary, string runFolder, Func<StopRequest> why)
    {
        if (summary.Reason == StopReason.Cancelled && why() == StopRequest.None)
            throw new OperationCanceledException($"the delivery of job {job} ended after {summary.Steps} steps", context.CancellationToken);
        if (summary.Reason == StopReason.Cancelled && why() == StopRequest.Cancelled)
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
}

/// <summary>
/// The trainer queue's invitations: this idle replica joins a job's group as the rank it is given. A group that breaks
/// ends this rank's part (the leader re-forms the group, inviting again); an invitation of a past attempt finds no
/// store and is dropped after the group timeout.
/// </summary>
public sealed class JoinTrainingGroupConsumer(RankRun ranks, JobArtifacts artifacts, JobControl control, ILogger<JoinTrainingGroupConsumer> logger)
    : IConsumer<JoinTrainingGroup>
{
    public async Task Consume(ConsumeContext<JoinTrainingGroup> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var invitation = context.Message;
        var job = invitation.JobId;
        if (await artifacts.IsCancelledAsync(job, context.CancellationToken).ConfigureAwait(false) ||
            await artifacts.IsTrainedAsync(job, context.CancellationToken).ConfigureAwait(false)) return;
        var recipe = TaskRecipes.LoadText(invitation.Task, invitation.RecipeYaml, "recipe.yaml");
        var settings = new DistributedSettings(invitation.Rank, invitation.WorldSize, invitation.MasterAddr, invitation.MasterPort, ranks.GroupTimeout);
        var (token, why) = control.Register(job, context.CancellationToken);
        try
        {
            var (summary, _) = await ranks.RunAsync(new RankAssignment(job, invitation.PreparedPrefix, invitation.Classes, recipe, settings), context,
                (_, _) => Task.CompletedTask, () => why() == StopRequest.Cancelled, token, context.CancellationToken).ConfigureAwait(false);
            logger.LogInformation("Job {JobId}: rank {Rank} of {World} finished ({Reason}, {Steps} steps)", job, invitation.Rank, invitation.WorldSize, summary.Reason, summary.Steps);
        }
        catch (DistributedException e)
        {
            logger.LogWarning("Job {JobId}: rank {Rank} of attempt {Attempt} left the group: {Reason}", job, invitation.Rank, invitation.Attempt, e.Message);
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
