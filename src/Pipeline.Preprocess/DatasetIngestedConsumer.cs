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
            catch (Exception e) when (BadData(e) is { } bad)
            {
                logger.LogWarning("Job {JobId}: dataset {DatasetId} cannot be prepared: {Reason}", ingested.JobId, ingested.DatasetId, bad.Message);
                await context.Publish(new JobFailed(ingested.JobId, "preprocess", bad.Message), context.CancellationToken).ConfigureAwait(false);
                return;
            }
        }
        await context.Publish(prepared, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>The data's fault in <paramref name="e"/> (parallel decoding wraps it), which no retry mends; else null.</summary>
    private static Exception? BadData(Exception e) => e switch
    {
        InvalidDataException or Vision.Data.Formats.DatasetFormatException or Training.Recipes.RecipeException or Vision.Imaging.ImageDecodeException => e,
        AggregateException a => a.Flatten().InnerExceptions.Select(BadData).FirstOrDefault(x => x is not null),
        _ => null,
    };
}
