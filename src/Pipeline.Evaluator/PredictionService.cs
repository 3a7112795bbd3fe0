using Pipeline.Artifacts;
using Pipeline.ServiceDefaults;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;
using Microsoft.AspNetCore.Http.Features;
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
/// its blob changes (its ETag), so a retrained job is never answered by stale weights. A model runs in TorchSharp, or,
/// with <c>PIPELINE_PREDICT_RUNTIME=onnx</c>, as its ONNX export in ONNX Runtime (its outputs checked against ours
/// within 1e-4 when loaded); a detector's scoring, decoding and NMS stay ours either way.
/// </summary>
public sealed class PredictionService(JobArtifacts artifacts, IConfiguration configuration, ILogger<PredictionService> logger) : IDisposable
{
    /// <summary>Models kept loaded at once (each holds its weights in memory).</summary>
    public const int Capacity = 4;

    /// <summary>The configuration key that chooses what runs the models: <c>torchsharp</c> (the default) or <c>onnx</c>.</summary>
    public const string RuntimeVariable = "PIPELINE_PREDICT_RUNTIME";

    /// <summary>What runs the models, from <see cref="RuntimeVariable"/>; an unknown value stops the service naming it.</summary>
    public PredictionRuntime Runtime { get; } = ParseRuntime(configuration[RuntimeVariable]);

    public static PredictionRuntime ParseRuntime(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "torchsharp" => PredictionRuntime.TorchSharp,
        "onnx" => PredictionRuntime.Onnx,
        _ => throw new InvalidOperationException($"{RuntimeVariable} must be torchsharp or onnx, got '{text}'"),
    };

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
                    ? new JobPredictor(null, new DetectionPredictor(recipe, info.Classes, shape, weights, device, Runtime))
                    : new JobPredictor(new ClassifierPredictor(recipe, info.Classes, shape, weights, device, Runtime), null);
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
            logger.LogInformation("Loaded the best model of {Task} job {JobId} for predictions ({Classes} classes, input {Shape}, run by {Runtime})", info.Task, job, info.Classes.Count,
                string.Join("x", shape), predictor.Classifier?.Runtime ?? predictor.Detector?.Runtime ?? PredictionRuntime.TorchSharp);
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
/// a detector's boxes (<c>?min_score=0.3</c>, <c>?top=N</c> at most) in the image's own pixels, best first. The image's
/// header is read before any pixel is decoded: one over the pixel limit is refused with 413, and a JPEG much larger than
/// the model's input is decoded at a reduced scale (libjpeg's DCT scaling, as Pillow's <c>draft</c>).
/// </summary>
public static class PredictionEndpoint
{
    /// <summary>Boxes scoring below this are left out unless the caller asks for another threshold (the detector keeps
    /// far weaker ones for mAP, which wants the whole ranking).</summary>
    public const double DefaultMinScore = 0.3;

    /// <summary>After serving an image decoded at more pixels than this, the evaluator gives the memory back at once
    /// rather than keeping a peak it may not need again.</summary>
    public const long ReleaseAfterPixels = 4_000_000;

    public sealed record PredictionView(Guid Job, IReadOnlyList<ClassPrediction> Predictions);

    public sealed record DetectionView(Guid Job, IReadOnlyList<DetectedBox> Boxes);

    public static void MapPrediction(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var limits = PredictionLimits.From(app.Configuration);
        app.MapPost("/predict/{job:guid}", async (Guid job, int? top, [FromQuery(Name = "min_score")] double? minScore, HttpRequest request,
            PredictionService predictions, CancellationToken cancellationToken) =>
        {
            if (top is < 1) return Results.Problem($"query parameter 'top' must be at least 1, got {top}", statusCode: 400);
            if (minScore is < 0 or > 1) return Results.Problem($"query parameter 'min_score' must be in [0, 1], got {minScore}", statusCode: 400);
            if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
                bodyLimit.MaxRequestBodySize = limits.MaxBytes;
            if (request.ContentLength is { } declared && declared > limits.MaxBytes)
                return Results.Problem($"the image is {declared} bytes, over the limit of {limits.MaxBytes} bytes ({PredictionLimits.BytesVariable})", statusCode: 413);
            var body = await ReadBodyAsync(request, cancellationToken).ConfigureAwait(false);
            if (body.Length == 0) return Results.Problem("the request body is empty: send the image (JPEG or PNG) as the body", statusCode: 400);

            const string source = "the uploaded image";
            ImageInfo info;
            try
            {
                info = ImageHeaderReader.Read(body.Span, source);
            }
            catch (ImageDecodeException e)
            {
                return Results.Problem(e.Message, statusCode: 400);
            }
            if (info.PixelCount > limits.MaxPixels)
                return Results.Problem(
                    $"the image is {info.StoredWidth}x{info.StoredHeight} = {info.PixelCount} pixels, over the limit of {limits.MaxPixels} pixels ({PredictionLimits.PixelsVariable}); send a smaller image",
                    statusCode: 413);

            ImageBuffer? image = null;
            try
            {
                for (var attempt = 0; ; attempt++)
                {
                    var predictor = await predictions.GetAsync(job, cancellationToken).ConfigureAwait(false);
                    if (predictor is null) return Results.Problem($"job {job} has no trained model (yet)", statusCode: 404);
                    try
                    {
                        image ??= Decode(body.Span, source, info, limits, predictor.Detector?.InputSize ?? predictor.Classifier!.InputSize);
                    }
                    catch (ImageDecodeException e)
                    {
                        return Results.Problem(e.Message, statusCode: 400);
                    }
                    try
                    {
                        if (predictor.Detector is { } detector)
                        {
                            // Boxes come back in the decoded image's pixels: scaled to the image as sent.
                            double sx = (double)info.Width / image.Width, sy = (double)info.Height / image.Height;
                            var boxes = detector.Predict(image, minScore ?? DefaultMinScore, top ?? int.MaxValue)
                                .Select(b => b with { X1 = b.X1 * sx, Y1 = b.Y1 * sy, X2 = b.X2 * sx, Y2 = b.Y2 * sy })
                                .ToList();
                            return Results.Ok(new DetectionView(job, boxes));
                        }
                        return Results.Ok(new PredictionView(job, predictor.Classifier!.Predict(image, top ?? 5)));
                    }
                    catch (ObjectDisposedException) when (attempt == 0)
                    {
                        // Evicted by another job's request between lookup and use: load it again.
                    }
                }
            }
            finally
            {
                if (info.PixelCount > ReleaseAfterPixels || body.Length > 8 << 20)
                {
                    image = null;
                    body = default;
                    // The decoded image and the body sit in the large object heap until a full collection: return
                    // them to the system now (a blocking collection of a small heap: milliseconds).
                    GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                }
            }
        });
    }

    /// <summary>The whole body: into one array of the declared length, else grown as it comes (Kestrel stops it at the
    /// body limit set above).</summary>
    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } length)
        {
            var buffer = GC.AllocateUninitializedArray<byte>(checked((int)length));
            var filled = 0;
            while (filled < buffer.Length && await request.Body.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false) is var read and > 0)
                filled += read;
            return buffer.AsMemory(0, filled);
        }
        using var stream = new MemoryStream();
        await request.Body.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        return stream.GetBuffer().AsMemory(0, (int)stream.Length);
    }

    /// <summary>A JPEG at least four times the model's input on each side is decoded at 1/2, 1/4 or 1/8 scale, still at
    /// least twice the input, so the resize to the input averages as it does for a full decode.</summary>
    private static ImageBuffer Decode(ReadOnlySpan<byte> data, string source, ImageInfo info, PredictionLimits limits, (int Height, int Width) input) =>
        info.Format == ImageFormat.Jpeg
            ? JpegCodec.Decode(data, source, ColorMode.Original, atLeast: (2 * input.Width, 2 * input.Height), maxPixels: limits.MaxPixels)
            : new ImageDecoder { MaxPixels = limits.MaxPixels }.Decode(data, source);
}
