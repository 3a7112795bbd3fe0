using TorchSharp;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Detection;
using Pipeline.Vision.Export;
using Pipeline.Vision.Imaging;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Detection;

/// <summary>One detected object: its class name and index, score, and box (x1, y1) to (x2, y2) in the pixels of the image given.</summary>
public sealed record DetectedBox(string Label, int Index, double Score, double X1, double Y1, double X2, double Y2);

/// <summary>
/// Detects objects in single images with a trained detector: the image is converted and fitted exactly as the training
/// data was (preprocess's resize or letterbox, then the recipe's normalisation), and the boxes come back in the image's
/// own pixels, best first. The network runs in TorchSharp or, as its ONNX export, in ONNX Runtime (checked against ours
/// when loaded); either way our post-processing (scores, decoding, NMS) turns its outputs into boxes. Safe to call from
/// several threads (calls run one at a time, and disposing waits for the one in progress).
/// </summary>
public sealed class DetectionPredictor : IDisposable
{
    private readonly Recipe recipe;
    private readonly IReadOnlyList<string> classes;
    private readonly int channels, height, width;
    private readonly Fcos model;
    private readonly DetectionBatcher batcher;
    private readonly OnnxModelSession? onnx;
    // What ONNX Runtime's outputs lack: the locations' anchors and counts per level at the (fixed) input size.
    private readonly Tensor? anchors;
    private readonly long[] locationsPerLevel = [];
    private readonly Lock gate = new();
    private bool disposed;

    /// <param name="imageShape">The training images' (channels, height, width).</param>
    /// <param name="runtime">What runs the network (ONNX Runtime runs on the CPU, whatever <paramref name="device"/> says).</param>
    public DetectionPredictor(Recipe recipe, IReadOnlyList<string> classes, IReadOnlyList<int> imageShape, string weightsFile, Device device,
        PredictionRuntime runtime = PredictionRuntime.TorchSharp)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(classes);
        this.recipe = recipe;
        this.classes = classes;
        (channels, height, width) = ImageShape.Of(imageShape);
        Runtime = runtime;
        if (runtime == PredictionRuntime.TorchSharp)
        {
            model = DetectionEvaluation.LoadModel(recipe, classes.Count, channels, weightsFile, device);
            batcher = new DetectionBatcher(recipe.Input, channels, device);
            return;
        }
        model = DetectionEvaluation.LoadModel(recipe, classes.Count, channels, weightsFile, CPU);
        batcher = new DetectionBatcher(recipe.Input, channels, CPU);
        onnx = OnnxVerification.LoadChecked(model, channels, height, width, weightsFile);
        // What ONNX Runtime's outputs lack, from one forward at the input size: the anchors and locations per level.
        try
        {
            using var noGrad = no_grad();
            using var probe = DetectionEvaluation.Forward(model, zeros(2, channels, height, width));
            anchors = probe.Anchors.clone();
            locationsPerLevel = probe.LocationsPerLevel;
        }
        catch
        {
            onnx.Dispose();
            throw;
        }
    }

    /// <summary>What runs this predictor's network.</summary>
    public PredictionRuntime Runtime { get; }

    /// <summary>Detections scoring at least <paramref name="minScore"/>, at most <paramref name="max"/> of them, best first.</summary>
    public IReadOnlyList<DetectedBox> Predict(ImageBuffer image, double minScore, int max = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(image);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (pixels, back) = DetectionTensors.FitImage(image, channels, height, width, recipe.Detection.Fit);
            var input = batcher.Normalize(pixels.unsqueeze(0));
            using var output = onnx is null ? DetectionEvaluation.Forward(model, input) : OnnxForward(input);
            // The detections' tensors belong to the scope.
            var detections = model.postprocess(output);
            return [.. DetectionEvaluation.ToScoredBoxes(detections[0])
                .Where(d => d.Score >= minScore)
                .OrderByDescending(d => d.Score)
                .Take(max)
                .Select(d => (Box: back.ToOriginal(d.Box), d.Score))
                .Select(d => new DetectedBox(classes[d.Box.ClassId], d.Box.ClassId, d.Score, d.Box.X1, d.Box.Y1, d.Box.X2, d.Box.Y2))];
        }
    }

    // ONNX Runtime's per-level outputs joined as our forward joins them (levels fine first), with the anchors of the input size.
    private FcosOutput OnnxForward(Tensor input)
    {
        using var cpu = input.to(float32).cpu().contiguous();
        var outputs = onnx!.Run(cpu.ToArray<float>(), cpu.shape);
        Tensor Joined(Func<(string ClassLogits, string BoxRegression, string Centerness), string> name) =>
            cat([.. Enumerable.Range(0, locationsPerLevel.Length).Select(l => outputs[name(OnnxExporter.DetectorOutputs(l))]).Select(o => tensor(o.Values, o.Shape))], 1);
        return new FcosOutput(Joined(n => n.ClassLogits), Joined(n => n.BoxRegression), Joined(n => n.Centerness), anchors!.clone(), locationsPerLevel,
            (input.shape[2], input.shape[3]));
    }

    /// <summary>The model's input (height, width): an image much larger can be decoded at a reduced scale.</summary>
    public (int Height, int Width) InputSize => (height, width);

    /// <summary>Waits for a prediction in progress; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            batcher.Dispose();
            model.Dispose();
            onnx?.Dispose();
            anchors?.Dispose();
        }
    }
}
