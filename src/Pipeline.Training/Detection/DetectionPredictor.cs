using TorchSharp;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Detection;
using Pipeline.Vision.Imaging;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Detection;

/// <summary>One detected object: its class name and index, score, and box (x1, y1) to (x2, y2) in the pixels of the image given.</summary>
public sealed record DetectedBox(string Label, int Index, double Score, double X1, double Y1, double X2, double Y2);

/// <summary>
/// Detects objects in single images with a trained detector: the image is converted and fitted exactly as the training
/// data was (preprocess's resize or letterbox, then the recipe's normalisation), and the boxes come back in the image's
/// own pixels, best first. Safe to call from several threads (calls run one at a time, and disposing waits for the one
/// in progress).
/// </summary>
public sealed class DetectionPredictor : IDisposable
{
    private readonly Recipe recipe;
    private readonly IReadOnlyList<string> classes;
    private readonly int channels, height, width;
    private readonly Fcos model;
    private readonly DetectionBatcher batcher;
    private readonly Lock gate = new();
    private bool disposed;

    /// <param name="imageShape">The training images' (channels, height, width).</param>
    public DetectionPredictor(Recipe recipe, IReadOnlyList<string> classes, IReadOnlyList<int> imageShape, string weightsFile, Device device)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(classes);
        this.recipe = recipe;
        this.classes = classes;
        (channels, height, width) = ImageShape.Of(imageShape);
        model = DetectionEvaluation.LoadModel(recipe, classes.Count, channels, weightsFile, device);
        batcher = new DetectionBatcher(recipe.Input, channels, device);
    }

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
            using var output = DetectionEvaluation.Forward(model, batcher.Normalize(pixels.unsqueeze(0)));
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
        }
    }
}
