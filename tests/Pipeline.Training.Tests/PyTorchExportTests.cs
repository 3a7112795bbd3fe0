using Pipeline.Tests.Support;
using System.Globalization;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Serialization;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>A model we trained, written as PyTorch's <c>.pt</c> by TorchSharp.PyBridge, loads in Debian's PyTorch 1.13
/// (<c>/usr/bin/python3</c>) and gives our logits.</summary>
public sealed class PyTorchExportTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("pt-export-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void A_trained_model_saved_as_pt_loads_in_pytorch_and_gives_our_logits()
    {
        var recipe = RecipeLoader.Load(null, ["model.name=small_cnn", "model.width=8", "batch_size=32", "epochs=1", "device=cpu"]);
        using var train = FashionSubset.Slice(0, 256);
        using var validation = FashionSubset.Slice(50_000, 64);
        using var trainer = new Trainer(recipe, train, validation);
        trainer.Fit();

        var model = trainer.Model;
        model.eval();
        var pt = Path.Combine(dir, "model.pt");
        var io = Path.Combine(dir, "io.safetensors");
        using (var scope = NewDisposeScope())
        {
            var x = validation.Images.narrow(0, 0, 8).to(ScalarType.Float32) / 255;
            var logits = model.call(x);
            // Trained: batch norm's running statistics moved off their initial values, so they are part of the check.
            Assert.Contains(model.named_buffers(), b => b.name.EndsWith("running_mean", StringComparison.Ordinal) && b.buffer.abs().sum().ToSingle() > 0);
            model.save_py(pt);
            SafeTensors.Save(io, new Dictionary<string, Tensor> { ["x"] = x, ["logits"] = logits });
        }

        var difference = double.Parse(ReferencePython.MaxAbsDiff("pt_logits.py", pt, io, "1", "10", "8"), CultureInfo.InvariantCulture);
        Assert.True(difference <= 1e-4, $"PyTorch's logits differ from ours by up to {difference}");
    }
}
