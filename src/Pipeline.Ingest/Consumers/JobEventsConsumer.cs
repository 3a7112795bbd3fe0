using MassTransit;
using Pipeline.Contracts.V1;
using Pipeline.Ingest.Registry;

namespace Pipeline.Ingest.Consumers;

/// <summary>
/// Keeps the registry in step with the pipeline: every job event moves the job's state or adds to its history and
/// metric curves; each state change is announced as <see cref="JobStatusChanged"/>.
/// </summary>
public sealed class JobEventsConsumer(JobRegistry registry) :
    IConsumer<DatasetIngested>,
    IConsumer<PreprocessingStarted>,
    IConsumer<DatasetPrepared>,
    IConsumer<TrainingStarted>,
    IConsumer<TrainingProgress>,
    IConsumer<CheckpointSaved>,
    IConsumer<TrainingCompleted>,
    IConsumer<TrainingFailed>,
    IConsumer<JobFailed>,
    IConsumer<EvaluationCompleted>,
    IConsumer<StopTrainingEarly>,
    IConsumer<TrainingGroupLost>,
    IConsumer<Fault<SubmitDataset>>,
    IConsumer<Fault<DatasetIngested>>,
    IConsumer<Fault<TrainingCompleted>>
{
    public Task Consume(ConsumeContext<DatasetIngested> context) => Record(context, null);

    public Task Consume(ConsumeContext<PreprocessingStarted> context) => Transition(context, JobState.Preprocessing, null);

    public Task Consume(ConsumeContext<DatasetPrepared> context) => Transition(context, JobState.Prepared, null);

    public Task Consume(ConsumeContext<TrainingStarted> context) => Transition(context, JobState.Training, null);

    // Steps a resumed job repeats are not recorded twice (RecordProgressAsync).
    public Task Consume(ConsumeContext<TrainingProgress> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return registry.RecordProgressAsync(context.Message, context.CancellationToken);
    }

    public Task Consume(ConsumeContext<CheckpointSaved> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var c = context.Message;
        return registry.RecordAsync(c.JobId, c, c.TrainMetrics.Select(kv => new MetricRecord { Name = kv.Key, Split = "train", Epoch = c.Epoch, Step = c.Step, Value = kv.Value }),
            null, context.CancellationToken);
    }

    public Task Consume(ConsumeContext<TrainingCompleted> context) => Transition(context, JobState.Evaluating, null);

    public Task Consume(ConsumeContext<TrainingFailed> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Transition(context, JobState.Failed, context.Message.Reason);
    }

    public Task Consume(ConsumeContext<JobFailed> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Transition(context, JobState.Failed, $"{context.Message.Stage}: {context.Message.Reason}");
    }

    public async Task Consume(ConsumeContext<EvaluationCompleted> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var e = context.Message;
        var metrics = e.Metrics.Select(kv => new MetricRecord { Name = kv.Key, Split = e.Split, Epoch = e.Epoch, Value = kv.Value });
        await registry.RecordAsync(e.JobId, e, metrics, job =>
        {
            // The best checkpoint is the validation split's call; the test evaluation is of that model already.
            if (!e.IsBest || e.Split != "val") return;
            job.BestEpoch = e.Epoch;
            job.BestCheckpoint = e.ReportBlob;
        }, context.CancellationToken).ConfigureAwait(false);
        // The evaluation of the best model on the test split is the job's last step (its event is recorded above).
        if (e.Split == "test")
        {
            var change = await registry.TransitionAsync(e.JobId, JobState.Succeeded, null, null, context.CancellationToken).ConfigureAwait(false);
            await SubmitDatasetConsumer.Announce(context, change).ConfigureAwait(false);
        }
    }

    public Task Consume(ConsumeContext<StopTrainingEarly> context) => Record(context, null);

    public Task Consume(ConsumeContext<TrainingGroupLost> context) => Record(context, null);

    // A stage that still fails after its retries (an unexpected error: expected ones end the job themselves) would leave
    // the job waiting for it forever. The job fails instead, naming the stage and the error.
    public Task Consume(ConsumeContext<Fault<SubmitDataset>> context) => Faulted(context, "ingest", "ingest", context.Message.Message.JobId);

    public Task Consume(ConsumeContext<Fault<DatasetIngested>> context) => Faulted(context, "preprocess", "preprocess", context.Message.Message.JobId);

    public Task Consume(ConsumeContext<Fault<TrainingCompleted>> context) => Faulted(context, "evaluate", "evaluator", context.Message.Message.JobId);

    private async Task Faulted<T>(ConsumeContext<Fault<T>> context, string stage, string queue, Guid jobId) where T : class
    {
        var error = context.Message.Exceptions.FirstOrDefault();
        var reason = $"{stage}: {error?.Message ?? "failed"} (after retries; the message is in the {queue}_error queue)";
        var change = await registry.TransitionAsync(jobId, JobState.Failed, reason, null, context.CancellationToken).ConfigureAwait(false);
        await SubmitDatasetConsumer.Announce(context, change).ConfigureAwait(false);
    }

    private Task Record<T>(ConsumeContext<T> context, Action<JobRecord>? update) where T : class, IJobEvent
    {
        ArgumentNullException.ThrowIfNull(context);
        return registry.RecordAsync(context.Message.JobId, context.Message, null, update, context.CancellationToken);
    }

    private async Task Transition<T>(ConsumeContext<T> context, JobState state, string? reason) where T : class, IJobEvent
    {
        ArgumentNullException.ThrowIfNull(context);
        await registry.RecordAsync(context.Message.JobId, context.Message, null, null, context.CancellationToken).ConfigureAwait(false);
        var change = await registry.TransitionAsync(context.Message.JobId, state, reason, null, context.CancellationToken).ConfigureAwait(false);
        await SubmitDatasetConsumer.Announce(context, change).ConfigureAwait(false);
    }
}
