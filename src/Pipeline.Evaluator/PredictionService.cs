using Pipeline.Artifacts;
using Pipeline.Torch;
using Microsoft.AspNetCore.Mvc;
using Pipeline.Training;
using Pipeline.Training.Detection;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Imaging;

namespace Pipeline.Evaluator;

/// <summary>A job's best model loaded for predictions: a classifier or a detector (the job's task decides).</summary>
public sealed record JobPredictor(ClassifierPredictor? Classifier, DetectionPredictor? Detector) : IDisposable
{
    public void Dispose()
    {
        Classifier?.Dispose();
        Detector?.Dispose();
    }
}

/// <summary>
/// Serves predictions with finished jobs' best models. The last few models used stay loaded; a model is reloaded when
/// its blob changes (its ETag), so a retrained job is never answered by stale weights.
/// </summary>
public sealed class PredictionService(JobArtifacts artifacts, ILogger<PredictionService> logger) : IDisposable
{
    /// <summary>Models kept loaded at once (each holds its weights in memory).</summary>
    public const int Capacity = 4;

    private sealed record Loaded(JobPredictor Predictor, string Version, DateTime LastUsed);

    private readonly Dictionary<Guid, Loaded> loaded = [];
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <summary>The predictor of the job's best model, or null when the job has no model (yet).</summary>
    public async Task<JobPredictor?> GetAsync(Guid job, CancellationToken cancellationToken)
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
            var recipe = TaskRecipes.LoadText(info.Task, info.RecipeYaml, "recipe.yaml");
            var shape = await artifacts.ReadImageShapeAsync(info.PreparedPrefix, cancellationToken).ConfigureAwait(false);
            var weights = Path.GetTempFileName();
            JobPredictor predictor;
            try
            {
                await artifacts.DownloadAsync(JobArtifacts.ModelBlob(job), weights, cancellationToken).ConfigureAwait(false);
                var device = TrainingDevice.Resolve(recipe.Device);
                predictor = recipe.Task == TaskKind.Detect
                    ? new JobPredictor(null, new DetectionPredictor(recipe, info.Classes, shape, weights, device))
                    : new JobPredictor(new ClassifierPredictor(recipe, info.Classes, shape, weights, device), null);
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
            logger.LogInformation("Loaded the best model of {Task} job {JobId} for predictions ({Classes} classes, input {Shape})", info.Task, job, info.Classes.Count, string.Join("x", shape));
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

/// <summary>
/// <c>POST /predict/{job}?top=5</c>: an image (JPEG or PNG) in the body; a classifier's top classes with scores out, or
/// a detector's boxes (<c>?min_score=0.3</c>, <c>?top=N</c> at most) in the image's own pixels, best first.
/// </summary>
public static class PredictionEndpoint
{
    /// <summary>Largest image body accepted.</summary>
    public const long MaxImageBytes = 64L << 20;

    /// <summary>Boxes scoring below this are left out unless the caller asks for another threshold (the detector keeps
    /// far weaker ones for mAP, which wants the whole ranking).</summary>
    public const double DefaultMinScore = 0.3;

    public sealed record PredictionView(Guid Job, IReadOnlyList<ClassPrediction> Predictions);

    public sealed record DetectionView(Guid Job, IReadOnlyList<DetectedBox> Boxes);

    public static void MapPrediction(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/predict/{job:guid}", async (Guid job, int? top, [FromQuery(Name = "min_score")] double? minScore, HttpRequest request,
            PredictionService predictions, CancellationToken cancellationToken) =>
        {
            if (top is < 1) return Results.Problem($"top must be at least 1, got {top}", statusCode: 400);
            if (minScore is < 0 or > 1) return Results.Problem($"min_score must be in [0, 1], got {minScore}", statusCode: 400);
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
                    return predictor.Detector is { } detector
                        ? Results.Ok(new DetectionView(job, detector.Predict(image, minScore ?? DefaultMinScore, top ?? int.MaxValue)))
                        : Results.Ok(new PredictionView(job, predictor.Classifier!.Predict(image, top ?? 5)));
                }
                catch (ObjectDisposedException) when (attempt == 0)
                {
                    // Evicted by another job's request between lookup and use: load it again.
                }
            }
        });
    }
}
