using TorchSharp;
using Pipeline.Training.Data;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Imaging;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>One class of a prediction: its name, index and softmax probability.</summary>
public sealed record ClassPrediction(string Class, int Index, double Score);

/// <summary>
/// Classifies single images with a trained model: the image is converted, resized and normalised exactly as the
/// training data was (preprocess's resize, then the recipe's normalisation), and the top classes come back with scores.
/// Safe to call from several threads (calls run one at a time, and disposing waits for the one in progress).
/// </summary>
public sealed class ClassifierPredictor : IDisposable
{
    private readonly Recipe recipe;
    private readonly IReadOnlyList<string> classes;
    private readonly int channels, height, width;
    private readonly Device device;
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly Lock gate = new();
    private bool disposed;

    /// <param name="imageShape">The training images' (channels, height, width).</param>
    public ClassifierPredictor(Recipe recipe, IReadOnlyList<string> classes, IReadOnlyList<int> imageShape, string weightsFile, Device device)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(classes);
        this.recipe = recipe;
        this.classes = classes;
        (channels, height, width) = ImageShape.Of(imageShape);
        this.device = device;
        model = ClassifierEvaluation.LoadModel(recipe, channels, classes.Count, weightsFile, device);
        model.eval();
    }

    public IReadOnlyList<ClassPrediction> Predict(ImageBuffer image, int top = 5)
    {
        ArgumentNullException.ThrowIfNull(image);
        top = Math.Clamp(top, 1, classes.Count);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var pixels = DatasetTensors.ToImageTensor(image, channels, height, width).unsqueeze(0);
            using var single = new TensorDataset(pixels, tensor(new long[] { 0 }), classes);
            var (input, _) = new ImageBatcher(single, recipe.Input, device).Batch([0]);
            var probabilities = model.call(input).to(float32).softmax(1)[0].cpu().ToArray<float>();
            return [.. probabilities.Select((p, k) => new ClassPrediction(classes[k], k, p)).OrderByDescending(p => p.Score).ThenBy(p => p.Index).Take(top)];
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
            model.Dispose();
        }
    }
}
