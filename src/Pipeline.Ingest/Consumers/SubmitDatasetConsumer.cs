using MassTransit;
using Pipeline.Contracts.V1;
using Pipeline.Ingest.Api;
using Pipeline.Ingest.Registry;
using Pipeline.Storage;

namespace Pipeline.Ingest.Consumers;

/// <summary>
/// The <c>ingest</c> queue: validates and stores a submitted dataset. Idempotent: a redelivered submission for a job
/// past Submitted does nothing. A bad dataset ends the job Failed with the reason; the service carries on.
/// </summary>
public sealed class SubmitDatasetConsumer(JobRegistry registry, DatasetIngestor ingestor, IArtifactStore store, ILogger<SubmitDatasetConsumer> logger)
    : IConsumer<SubmitDataset>
{
    public async Task Consume(ConsumeContext<SubmitDataset> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var submission = context.Message;
        var job = await registry.CreateAsync(submission, context.CancellationToken).ConfigureAwait(false);
        if (job.State is not (JobState.Submitted or JobState.Ingesting))
        {
            logger.LogInformation("Job {JobId} is already {State}: submission ignored", job.Id, job.State);
            return;
        }
        await Announce(context, await registry.TransitionAsync(job.Id, JobState.Ingesting, null, null, context.CancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        DatasetIngested ingested;
        try
        {
            ingested = await ingestor.IngestAsync(submission, context.CancellationToken).ConfigureAwait(false);
        }
        catch (DatasetRejectedException e)
        {
            logger.LogWarning("Job {JobId} rejected: {Reason}", job.Id, e.Message);
            // A dataset that was read but refused still tells what task the job was (one left to the dataset's format).
            await Announce(context, await registry.TransitionAsync(job.Id, JobState.Failed, e.Message, e.Task is { } task ? j => j.Task = task : null,
                context.CancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
            await DeleteUploadUnlessNeededAsync(submission, context.CancellationToken).ConfigureAwait(false);
            return;
        }

        // The task is known for sure now (a submission may leave it to the dataset's format).
        await registry.TransitionAsync(job.Id, JobState.Ingested, null, j => (j.DatasetId, j.Task) = (ingested.DatasetId, ingested.Task), context.CancellationToken).ConfigureAwait(false);
        await context.Publish(ingested, context.CancellationToken).ConfigureAwait(false);
        // Only now, with the raw copy stored and the job past Ingesting, is the upload it came from no longer needed.
        await DeleteUploadUnlessNeededAsync(submission, context.CancellationToken).ConfigureAwait(false);
    }

    // The trials of a sweep share one upload: it goes once no other job still waits to ingest it.
    private async Task DeleteUploadUnlessNeededAsync(SubmitDataset submission, CancellationToken cancellationToken)
    {
        if (!UploadsApi.IsUploadSource(submission.Source) || await registry.AwaitsSourceAsync(submission.Source, submission.JobId, cancellationToken).ConfigureAwait(false))
            return;
        await UploadsApi.DeleteAsync(store, submission.Source, cancellationToken).ConfigureAwait(false);
    }

    internal static Task Announce(IPublishEndpoint bus, JobStatusChanged? change) => change is null ? Task.CompletedTask : bus.Publish(change);
}
