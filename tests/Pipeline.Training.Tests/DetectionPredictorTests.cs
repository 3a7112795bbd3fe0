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
}
