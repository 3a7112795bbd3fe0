using MassTransit;
using Pipeline.Contracts.V1;

namespace Pipeline.Preprocess;

/// <summary>
/// The <c>preprocess</c> queue. Idempotent: a dataset already prepared is announced again, not redone. Bad data ends
/// the job Failed with the reason; the service carries on.
/// </summary>
public sealed class DatasetIngestedConsumer(DatasetPreparer preparer, ILogger<DatasetIngestedConsumer> logger) : IConsumer<DatasetIngested>
{
    public async Task Consume(ConsumeContext<DatasetIngested> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ingested = context.Message;
        var prepared = await preparer.FindPreparedAsync(ingested, context.CancellationToken).ConfigureAwait(false);
        if (prepared is null)
        {
            await context.Publish(new PreprocessingStarted(ingested.JobId, ingested.DatasetId), context.CancellationToken).ConfigureAwait(false);
            try
            {
                prepared = await preparer.PrepareAsync(ingested, context.CancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidDataException or Vision.Data.Formats.DatasetFormatException or Training.Recipes.RecipeException
                or Vision.Imaging.ImageDecodeException)
            {
                logger.LogWarning("Job {JobId}: dataset {DatasetId} cannot be prepared: {Reason}", ingested.JobId, ingested.DatasetId, e.Message);
                await context.Publish(new JobFailed(ingested.JobId, "preprocess", e.Message), context.CancellationToken).ConfigureAwait(false);
                return;
            }
        }
        await context.Publish(prepared, context.CancellationToken).ConfigureAwait(false);
    }
}
