using Pipeline.Tests.Support;
using System.Globalization;
using Pipeline.Training;
using Pipeline.Training.Detection;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Export;
using Pipeline.Vision.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Cli.Tests;

/// <summary>
/// <c>pipeline export</c> from a local run folder: ONNX (checked in ONNX Runtime as it is written, and again here),
/// PyTorch's .pt (loaded by /usr/bin/python3's torch 1.13 into the same architecture: the same logits) and
/// safetensors (the same tensors); a detector's run folder exports too; a folder that is not a run is refused by name.
/// </summary>
public sealed class ExportCommandTests(ExportCommandTests.TrainedRunFixture trained) : IDisposable, IClassFixture<ExportCommandTests.TrainedRunFixture>
{
    /// <summary>One short real run (`pipeline train`), shared by the tests: its batch norms' running statistics have moved off 0 and 1.</summary>
    public sealed class TrainedRunFixture : IDisposable
    {
        private readonly string root = Directory.CreateTempSubdirectory("cli-export-run-").FullName;

        public TrainedRunFixture()
        {
            Folder = Path.Combine(root, "run");
            var (code, _, stderr) = CliApp.RunCaptured("train", FashionMnist.DebianPath, "--limit", "256", "--epochs", "1", "--output", Folder, "--json",
                "--model.name=small_cnn", "--model.width=8", "--batch_size=32", "--device=cpu");
            Assert.True(code == 0, stderr);
        }

        public string Folder { get; }

        public void Dispose() => Directory.Delete(root, recursive: true);
    }

    private readonly string dir = Directory.CreateTempSubdirectory("cli-export-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static nn.Module<Tensor, Tensor> LoadRunModel(string run)
    {
        var recipe = RecipeLoader.Load(Path.Combine(run, "recipe.json"));
        var model = ClassifierEvaluation.LoadModel(recipe, 1, 10, Path.Combine(run, "best.safetensors"), CPU);
        model.eval();
        return model;
    }

    [Fact]
    public void Onnx_export_of_a_run_folder_is_checked_in_onnx_runtime_and_gives_our_logits()
    {
        var target = Path.Combine(dir, "model.onnx");
        var (code, stdout, stderr) = CliApp.RunCaptured("export", trained.Folder, "--format", "onnx", "--output", target);
        Assert.True(code == 0, stderr);
        Assert.Contains("ONNX Runtime gives our outputs within", stdout, StringComparison.Ordinal);

        using var model = LoadRunModel(trained.Folder);
        using var onnx = new OnnxModelSession(target);
        Assert.Equal("small_cnn", onnx.Metadata["model"]);
        Assert.Equal("classify", onnx.Metadata["task"]);
        using var scope = NewDisposeScope();
        var x = rand(5, 1, 28, 28);
        var comparison = OnnxVerification.Compare(onnx, model, x);
        Assert.True(comparison.MaxAbsDiff <= 1e-4, $"ONNX Runtime's logits differ from ours by {comparison.MaxAbsDiff}");
    }

    [Fact]
    public void Pt_export_of_a_run_folder_loads_in_pytorch_and_gives_our_logits()
    {
        var target = Path.Combine(dir, "model.pt");
        var (code, _, stderr) = CliApp.RunCaptured("export", trained.Folder, "--format", "pt", "--output", target);
        Assert.True(code == 0, stderr);

        var io = Path.Combine(dir, "io.safetensors");
        using (var model = LoadRunModel(trained.Folder))
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var x = rand(6, 1, 28, 28);
            SafeTensors.Save(io, new Dictionary<string, Tensor> { ["x"] = x, ["logits"] = model.call(x) });
        }
        var difference = double.Parse(ReferencePython.MaxAbsDiff("pt_logits.py", target, io, "1", "10", "8"), CultureInfo.InvariantCulture);
        Assert.True(difference <= 1e-4, $"PyTorch's logits differ from ours by up to {difference}");
    }

    [Fact]
    public void Safetensors_export_of_a_run_folder_holds_the_models_tensors()
    {
        var target = Path.Combine(dir, "weights.safetensors");
        var (code, _, stderr) = CliApp.RunCaptured("export", trained.Folder, "--format", "safetensors", "--output", target);
        Assert.True(code == 0, stderr);
        using var scope = NewDisposeScope();
        using var model = LoadRunModel(trained.Folder);
        var written = SafeTensors.Load(target);
        var state = model.state_dict();
        Assert.Equal(state.Keys.Order(StringComparer.Ordinal), written.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in state) Assert.True(tensor.equal(written[name]).all().ToBoolean(), $"{name} differs");
    }

    [Fact]
    public void A_detector_run_folder_exports_to_onnx_with_its_per_level_outputs()
    {
        var run = Path.Combine(dir, "detect-run");
        Directory.CreateDirectory(run);
        var recipe = TaskRecipes.Load("detect", null, ["model.name=resnet18", "input.size=[64, 96]", "detection.head_convs=2"]);
        File.WriteAllText(Path.Combine(run, "recipe.json"), RecipeWriter.ToJson(recipe));
        using (var scope = NewDisposeScope())
        using (var detector = DetectionEvaluation.CreateModel(recipe, 3, 3))
            SafeTensors.Save(Path.Combine(run, "best.safetensors"), detector.state_dict());

        var target = Path.Combine(dir, "detector.onnx");
        var (code, stdout, stderr) = CliApp.RunCaptured("export", run, "--format", "onnx", "--output", target);
        Assert.True(code == 0, stderr);
        Assert.Contains("over 15 output(s)", stdout, StringComparison.Ordinal);
        using var onnx = new OnnxModelSession(target);
        Assert.Equal("detect", onnx.Metadata["task"]);
        Assert.Contains("cls_logits_p3", onnx.OutputNames);
    }

    [Fact]
    public void A_folder_that_is_not_a_run_is_refused_naming_the_missing_file()
    {
        var (code, _, stderr) = CliApp.RunCaptured("export", dir, "--format", "onnx");
        Assert.Equal(2, code);
        Assert.Contains("recipe.json", stderr, StringComparison.Ordinal);
        Assert.Contains(dir, stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "model.onnx")));
    }
}
