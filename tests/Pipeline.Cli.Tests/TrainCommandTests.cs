using System.Text.Json;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Evaluation;

namespace Pipeline.Cli.Tests;

public sealed class TrainCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Train_on_a_fashion_mnist_subset_writes_the_run_folder_and_ends_with_one_json_line()
    {
        var output = Path.Combine(dir, "run");
        var (code, stdout, stderr) = Run("train", FashionMnist.DebianPath, "--limit", "400", "--epochs", "2", "--output", output, "--json",
            "--model.width=8", "--batch_size=32", "log_every=5");
        Assert.True(code == 0, stderr);

        var last = stdout.TrimEnd().Split('\n')[^1];
        using var json = JsonDocument.Parse(last);
        var accuracy = json.RootElement.GetProperty("accuracy").GetDouble();
        Assert.InRange(accuracy, 0, 1);
        Assert.Equal(400, json.RootElement.GetProperty("test_images").GetInt64());
        Assert.Equal(2, json.RootElement.GetProperty("epochs").GetInt32());
        Assert.Contains("epoch 1 step 5/", stderr, StringComparison.Ordinal);

        // The resolved recipe loads back as it ran: the command-line overrides are in it.
        var recipe = RecipeLoader.Load(Path.Combine(output, "recipe.json"));
        Assert.Equal(8, recipe.Model.Width);
        Assert.Equal(2, recipe.Epochs);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "results.csv")).Length);
        Assert.True(File.Exists(Path.Combine(output, "best.safetensors")));
        Assert.NotEmpty(Directory.GetDirectories(Path.Combine(output, "checkpoints"), "step-*"));
        var report = ClassificationReport.FromJson(File.ReadAllText(Path.Combine(output, "evaluation.json")));
        Assert.Equal(10, report.PerClass.Count);
        Assert.Equal(400, report.ConfusionMatrix.Sum(row => row.Sum()));
        Assert.Equal(accuracy, report.Accuracy);
        // The pictures: PNG files (signature) of a readable size.
        foreach (var picture in (string[])["confusion_matrix.png", "training_curves.png"])
        {
            var png = File.ReadAllBytes(Path.Combine(output, picture));
            Assert.True(png.AsSpan().StartsWith((byte[])[0x89, (byte)'P', (byte)'N', (byte)'G']), $"{picture} is not a PNG");
            var image = Pipeline.Vision.Imaging.PngCodec.Decode(png, picture);
            Assert.True(image.Width >= 600 && image.Height >= 500, $"{picture} is {image.Width}x{image.Height}");
        }
    }

    [Fact]
    public void A_bad_override_fails_naming_the_command_line_and_the_key()
    {
        var (code, _, stderr) = Run("train", FashionMnist.DebianPath, "--output", Path.Combine(dir, "run"), "--optimizer.lrr=1");
        Assert.Equal(2, code);
        Assert.Contains("command line: key 'optimizer.lrr': unknown key", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_without_idx_files_is_refused_by_name()
    {
        var (code, _, stderr) = Run("train", dir, "--output", Path.Combine(dir, "run"));
        Assert.Equal(2, code);
        Assert.Contains($"{dir}: not an IDX dataset folder", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void More_than_one_process_is_refused_until_data_parallel_training_lands()
    {
        var (code, _, stderr) = Run("train", FashionMnist.DebianPath, "--nproc", "2");
        Assert.Equal(2, code);
        Assert.Contains("--nproc", stderr, StringComparison.Ordinal);
    }
}
