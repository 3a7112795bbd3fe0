using Pipeline.Artifacts;
using Pipeline.Torch;
using Pipeline.Training;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Imaging;

namespace Pipeline.Evaluator;

/// <summary>
/// Serves predictions with finished jobs' best models. The last few models used stay loaded; a model is reloaded when
/// its blob changes (its ETag), so a retrained job is never answered by stale weights.
/// </summary>
public sealed class PredictionService(JobArtifacts artifacts, ILogger<PredictionService> logger) : IDisposable
{
    /// <summary>Models kept loaded at once (each holds its weights in memory).</summary>
    public const int Capacity = 4;

    private sealed record Loaded(ClassifierPredictor Predictor, string Version, DateTime LastUsed);

    private readonly Dictionary<Guid, Loaded> loaded = [];
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <summary>The predictor of the job's best model, or null when the job has no model (yet).</summary>
    public async Task<ClassifierPredictor?> GetAsync(Guid job, CancellationToken cancellationToken)
    {
        var version = await artifacts.ModelVersionAsync(job, cancellationToken).ConfigureAwait(false);
        if (version is null) return null;
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (loaded.TryGetValue(job, out var hit) && hit.Version == version)
            {
                loaded[job] = hit with { LastUsed = DateTime.UtcNow };
                return hit.Predictor;
            }
            var info = await artifacts.ReadJobInfoAsync(job, cancellationToken).ConfigureAwait(false);
            var recipe = RecipeLoader.LoadText(info.RecipeYaml, "recipe.yaml");
            var shape = await artifacts.ReadImageShapeAsync(info.PreparedPrefix, cancellationToken).ConfigureAwait(false);
            var weights = Path.GetTempFileName();
            ClassifierPredictor predictor;
            try
            {
                await artifacts.DownloadAsync(JobArtifacts.ModelBlob(job), weights, cancellationToken).ConfigureAwait(false);
                var device = recipe.Device == "auto" ? (torch.cuda.is_available() ? Device.CUDA() : Device.CPU) : Device.Parse(recipe.Device);
                predictor = new ClassifierPredictor(recipe, info.Classes, shape, weights, device);
            }
            finally
            {
                File.Delete(weights);
            }
            // Disposing waits for a prediction in progress; a caller still holding an evicted predictor asks again.
            if (loaded.Remove(job, out var stale)) stale.Predictor.Dispose();
            if (loaded.Count >= Capacity)
            {
                var oldest = loaded.MinBy(kv => kv.Value.LastUsed);
                loaded.Remove(oldest.Key);
                oldest.Value.Predictor.Dispose();
            }
            loaded[job] = new Loaded(predictor, version, DateTime.UtcNow);
            logger.LogInformation("Loaded the best model of job {JobId} for predictions ({Classes} classes, input {Shape})", job, info.Classes.Count, string.Join("x", shape));
            return predictor;
        }
        finally
        {
            gate.Release();
        }
    }

    public void Dispose()
    {
        foreach (var entry in loaded.Values) entry.Predictor.Dispose();
        loaded.Clear();
        gate.Dispose();
    }
}

/// <summary><c>POST /predict/{job}?top=5</c>: an image (JPEG or PNG) in the body; the top classes with scores out.</summary>
public static class PredictionEndpoint
{
    /// <summary>Largest image body accepted.</summary>
    public const long MaxImageBytes = 64L << 20;

    public sealed record PredictionView(Guid Job, IReadOnlyList<ClassPrediction> Predictions);

    public static void MapPrediction(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/predict/{job:guid}", async (Guid job, int? top, HttpRequest request, PredictionService predictions, CancellationToken cancellationToken) =>
        {
            if (request.ContentLength is > MaxImageBytes)
                return Results.Problem($"the image is {request.ContentLength} bytes, over the limit of {MaxImageBytes}", statusCode: 413);
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, cancellationToken).ConfigureAwait(false);
            if (body.Length == 0) return Results.Problem("the request body is empty: send the image (JPEG or PNG) as the body", statusCode: 400);
            ImageBuffer image;
            try
            {
                image = ImageDecoder.Default.Decode(body.GetBuffer().AsSpan(0, (int)body.Length), "the uploaded image");
            }
            catch (ImageDecodeException e)
            {
                return Results.Problem(e.Message, statusCode: 400);
            }
            for (var attempt = 0; ; attempt++)
            {
                var predictor = await predictions.GetAsync(job, cancellationToken).ConfigureAwait(false);
                if (predictor is null) return Results.Problem($"job {job} has no trained model (yet)", statusCode: 404);
                try
                {
                    return Results.Ok(new PredictionView(job, predictor.Predict(image, top ?? 5)));
                }
                catch (ObjectDisposedException) when (attempt == 0)
                {
                    // Evicted by another job's request between lookup and use: load it again.
                }
            }
        });
    }
}
