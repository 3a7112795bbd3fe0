using Pipeline.Training.Recipes;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>
/// The evaluator's ONNX option: a classifier served through its ONNX export in ONNX Runtime answers as TorchSharp does
/// (the same top class, every probability within 1e-4), for a model we trained, on real test images.
/// </summary>
public sealed class OnnxPredictionTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("onnx-predict-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void A_classifier_served_by_onnx_runtime_gives_torchsharps_classes_and_probabilities()
    {
        var recipe = RecipeLoader.Load(null, ["model.name=small_cnn", "model.width=8", "batch_size=32", "epochs=1", "device=cpu"]);
        using var train = FashionSubset.Slice(0, 256);
        using var test = FashionSubset.Slice(50_000, 8);
        var weights = Path.Combine(dir, "best.safetensors");
        using (var trainer = new Trainer(recipe, train, test))
        {
            trainer.Fit();
            using var scope = NewDisposeScope();
            SafeTensors.Save(weights, trainer.Model.state_dict());
        }

        var classes = test.Classes;
        using var torchSharp = new ClassifierPredictor(recipe, classes, [1, 28, 28], weights, CPU);
        using var onnx = new ClassifierPredictor(recipe, classes, [1, 28, 28], weights, CPU, PredictionRuntime.Onnx);
        Assert.Equal(PredictionRuntime.Onnx, onnx.Runtime);
        for (var k = 0; k < test.Count; k++)
        {
            using var scope = NewDisposeScope();
            var image = ImageBuffer.FromTensor(test.Images[k]);
            var expected = torchSharp.Predict(image, classes.Count);
            var actual = onnx.Predict(image, classes.Count);
            Assert.Equal(expected[0].Index, actual[0].Index);
            foreach (var e in expected)
            {
                var a = actual.Single(p => p.Index == e.Index);
                Assert.True(Math.Abs(e.Score - a.Score) <= 1e-4, $"image {k}, class {e.Class}: ONNX Runtime's probability {a.Score} differs from TorchSharp's {e.Score}");
            }
        }
    }
}
