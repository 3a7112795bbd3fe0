using System.Text.Json;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Evaluation;

namespace Pipeline.Cli.Tests;

public sealed class DetectCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("cli-detect-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliApp.RunCaptured(args);

    // A tiny pyramid and head at 64x64: two epochs over 16 images take seconds.
    private static readonly string[] Tiny = ["--input.size=[64, 64]", "--batch_size=4", "--detection.fpn_channels=32", "--detection.head_convs=1", "--log_every=2", "--device=cpu"];

    [Fact]
    public void Make_detection_then_train_detect_writes_the_run_folder_and_resumes()
    {
        var data = Path.Combine(dir, "set");
        var made = Run("datasets", "make-detection", data, "--seed", "3", "--train", "16", "--val", "6", "--test", "6", "--width", "96", "--height", "80");
        Assert.True(made.Code == 0, made.Stderr);
        Assert.Contains("wrote 28 images", made.Stdout, StringComparison.Ordinal);
        using (var source = new FolderSource(data))
        {
            var coco = DatasetLoader.Load(source, "coco").Dataset;
            Assert.Equal((16, 6, 6), (coco.InSplit(DatasetSplit.Train).Count(), coco.InSplit(DatasetSplit.Val).Count(), coco.InSplit(DatasetSplit.Test).Count()));
        }

        var output = Path.Combine(dir, "run");
        var (code, stdout, stderr) = Run(["train", data, "--task", "detect", "--epochs", "2", "--output", output, "--json", .. Tiny]);
        Assert.True(code == 0, stderr);
        using (var json = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]))
        {
            Assert.InRange(json.RootElement.GetProperty("map50").GetDouble(), 0, 1);
            Assert.Equal(6, json.RootElement.GetProperty("test_images").GetInt32());
            Assert.Equal(2, json.RootElement.GetProperty("epochs").GetInt32());
        }
        Assert.Contains("epoch 1 step 2/8", stderr, StringComparison.Ordinal);
        var recipe = RecipeLoader.Load(Path.Combine(output, "recipe.json"));
        Assert.Equal((TaskKind.Detect, 32L, 2), (recipe.Task, recipe.Detection.FpnChannels, recipe.Epochs));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "results.csv")).Length);
        Assert.True(File.Exists(Path.Combine(output, "best.safetensors")));
        Assert.NotEmpty(Directory.GetDirectories(Path.Combine(output, "checkpoints"), "step-*"));
        var report = DetectionReport.FromJson(File.ReadAllText(Path.Combine(output, "evaluation.json")));
        Assert.Equal(6, report.Images);
        Assert.Equal(FashionMnist.ClassNames, report.Classes);
        // The confusion matrix has a background row and column; every regular ground-truth box is in one of the class rows.
        Assert.Equal(11, report.ConfusionMatrix!.Length);
        Assert.All(report.ConfusionMatrix, row => Assert.Equal(11, row.Length));
        Assert.Equal(report.PerClass.Sum(c => c.GroundTruths), report.ConfusionMatrix[..10].Sum(row => row.Sum()));
        foreach (var picture in (string[])["pr_curves.png", "confusion_matrix.png"])
        {
            var png = File.ReadAllBytes(Path.Combine(output, picture));
            Assert.True(png.AsSpan().StartsWith((byte[])[0x89, (byte)'P', (byte)'N', (byte)'G']), $"{picture} is not a PNG");
            var image = Pipeline.Vision.Imaging.PngCodec.Decode(png, picture);
            Assert.True(image.Width >= 600 && image.Height >= 500, $"{picture} is {image.Width}x{image.Height}");
        }

        // One more epoch from the last checkpoint: the results file grows by one row, the step count goes on.
        var resumed = Run(["train", data, "--task", "detect", "--epochs", "3", "--output", output, "--json", "--resume", .. Tiny]);
        Assert.True(resumed.Code == 0, resumed.Stderr);
        Assert.Contains("resuming from", resumed.Stderr, StringComparison.Ordinal);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(output, "results.csv")).Length);
        using var again = JsonDocument.Parse(resumed.Stdout.TrimEnd().Split('\n')[^1]);
        Assert.Equal(12, again.RootElement.GetProperty("steps").GetInt64());
    }

    [Fact]
    public void Detect_on_a_classification_folder_or_with_a_classify_metric_fails_with_a_message()
    {
        var notDetection = Run("train", FashionMnist.DebianPath, "--task", "detect", "--output", Path.Combine(dir, "x"));
        Assert.Equal(2, notDetection.Code);
        Assert.Contains("not a detection one", notDetection.Stderr, StringComparison.Ordinal);
        var metric = Run("train", dir, "--task", "detect", "--early_stopping.metric=accuracy");
        Assert.Equal(2, metric.Code);
        Assert.Contains("early_stopping.metric", metric.Stderr, StringComparison.Ordinal);
        var tooSmall = Run("datasets", "make-detection", Path.Combine(dir, "small"), "--width", "10");
        Assert.Equal(2, tooSmall.Code);
    }
}
