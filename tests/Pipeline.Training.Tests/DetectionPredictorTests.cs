using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Training.Detection;
using Pipeline.Vision.Data;
using Pipeline.Vision.Imaging;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

public sealed class DetectionPredictorTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("detect-predictor-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData(DetectionFit.Resize, 64, 80)]
    [InlineData(DetectionFit.Letterbox, 64, 64)]
    public void One_image_of_another_size_gives_boxes_of_the_classes_in_its_own_pixels(DetectionFit fit, int height, int width)
    {
        // fpn_channels 32 at an input under 128 pixels: the top pyramid level is 1x1 with one channel per norm group,
        // which a single image must still get through.
        var fitName = fit.ToString().ToLowerInvariant();
        var recipe = DetectionRecipes.Load(null, [$"input.size=[{height}, {width}]", $"detection.fit={fitName}", "detection.fpn_channels=32",
            "detection.head_convs=1", "device=cpu", "detection.score_threshold=0"]);
        string[] classes = ["a", "b", "c"];
        var weights = Path.Combine(dir, "model.safetensors");
        using (var model = DetectionEvaluation.CreateModel(recipe, classes.Length, 3))
            SafeTensors.Save(weights, model.state_dict());
        var pixels = new byte[150 * 100];
        new Random(3).NextBytes(pixels);
        var image = new ImageBuffer(150, 100, 1, pixels); // gray: converted to the model's three channels

        using var predictor = new DetectionPredictor(recipe, classes, [3, height, width], weights, CPU);
        var boxes = predictor.Predict(image, minScore: 0, max: 20);
        Assert.InRange(boxes.Count, 1, 20);
        Assert.Equal(boxes.OrderByDescending(b => b.Score), boxes);
        foreach (var box in boxes)
        {
            Assert.Equal(classes[box.Index], box.Label);
            Assert.InRange(box.X1, 0, box.X2);
            Assert.InRange(box.X2, box.X1, 150);
            Assert.InRange(box.Y1, 0, box.Y2);
            Assert.InRange(box.Y2, box.Y1, 100);
        }
        Assert.Empty(predictor.Predict(image, minScore: 1.0));
    }

    [Fact]
    public void ONNX_Runtime_serves_the_detector_with_the_boxes_TorchSharp_gives()
    {
        // Trained a little, so that scores spread and the top boxes are not ties.
        var recipe = DetectionRecipes.Load(null, ["input.size=[96, 128]", "detection.fpn_channels=32", "detection.head_convs=1", "device=cpu",
            "detection.score_threshold=0.01"]);
        string[] classes = ["a", "b"];
        var weights = Path.Combine(dir, "model.safetensors");
        manual_seed(5);
        using (var model = DetectionEvaluation.CreateModel(recipe, classes.Length, 3))
        {
            // The head's biases start every score at the focal prior (0.01): nudged, so that candidates pass the threshold.
            using (no_grad())
                foreach (var (name, p) in model.named_parameters())
                    if (name.StartsWith("head.", StringComparison.Ordinal) && name.EndsWith(".bias", StringComparison.Ordinal)) p.add_(randn_like(p));
            SafeTensors.Save(weights, model.state_dict());
        }
        var pixels = new byte[200 * 150];
        new Random(11).NextBytes(pixels);
        var image = new ImageBuffer(200, 150, 1, pixels);

        using var ours = new DetectionPredictor(recipe, classes, [3, 96, 128], weights, CPU);
        using var onnx = new DetectionPredictor(recipe, classes, [3, 96, 128], weights, CPU, PredictionRuntime.Onnx);
        Assert.Equal(PredictionRuntime.Onnx, onnx.Runtime);
        var expected = ours.Predict(image, minScore: 0.05, max: 30);
        var actual = onnx.Predict(image, minScore: 0.05, max: 30);
        Assert.InRange(expected.Count, 5, 30);
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.Equal(e.Label, a.Label);
            Assert.Equal(e.Score, a.Score, 1e-4);
            foreach (var (x, y) in new[] { (e.X1, a.X1), (e.Y1, a.Y1), (e.X2, a.X2), (e.Y2, a.Y2) }) Assert.Equal(x, y, 1e-2);
        }
    }
}
