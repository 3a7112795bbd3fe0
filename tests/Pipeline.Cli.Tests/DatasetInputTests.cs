using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Pipeline.Vision.Data;
using Pipeline.Vision.Imaging;

namespace Pipeline.Cli.Tests;

/// <summary><c>pipeline train</c> reads datasets as the services do: any format, folder or archive, through the same
/// loader and validator, refusing what ingest refuses with the same message.</summary>
public sealed class DatasetInputTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("cli-inputs-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliApp.RunCaptured(args);

    private static readonly string[] TinyClassify =
        ["--epochs", "1", "--json", "--model.name=small_cnn", "--model.width=4", "--batch_size=8", "--input.size=[16,16]",
         "--data.validation_fraction=0.2", "--data.test_fraction=0.2", "--device=cpu"];

    private static readonly string[] TinyDetect = ["--epochs", "1", "--input.size=[32, 32]", "--batch_size=2", "--detection.fpn_channels=32", "--detection.head_convs=1", "--device=cpu"];

    [Theory]
    [InlineData("folder")]
    [InlineData("zip")]
    [InlineData("tar.gz")]
    public void An_image_folder_trains_from_a_folder_or_an_archive(string layout)
    {
        var folder = ImageFolder("colours", ("red", 10), ("blue", 10));
        var dataset = layout switch
        {
            "zip" => Zip(folder),
            "tar.gz" => TarGz(folder),
            _ => folder,
        };
        var (code, stdout, stderr) = Run(["train", dataset, "--output", Path.Combine(dir, "run-" + layout), .. TinyClassify]);
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
        // Split as preprocess splits it: per class 2 for validation, 2 for test.
        Assert.Equal(4, json.RootElement.GetProperty("test_images").GetInt64());
        Assert.Contains("training small_cnn on 12 images (4 for validation)", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_one_class_image_folder_is_refused_naming_the_dataset()
    {
        var folder = ImageFolder("only-red", ("red", 8));
        var (code, _, stderr) = Run(["train", folder, "--output", Path.Combine(dir, "run"), .. TinyClassify]);
        Assert.Equal(2, code);
        Assert.Contains($"dataset refused: {folder}: a classification dataset needs images of at least 2 classes; all 8 usable images are of 'red'", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir, "run")));
    }

    [Fact]
    public void An_empty_folder_is_refused_by_name()
    {
        var empty = Directory.CreateDirectory(Path.Combine(dir, "empty")).FullName;
        var (code, _, stderr) = Run("train", empty, "--output", Path.Combine(dir, "run"));
        Assert.Equal(2, code);
        Assert.Contains($"{empty}: the dataset is empty", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("5 0.5 0.5 0.2 0.2", "class 5 is not among the 2 classes")]
    [InlineData("0 0.5 0.5 0.2 0.2 0.1", "expected 'class cx cy w h'")]
    [InlineData("0 1.5 0.5 0.2 0.2", "reaches outside")]
    public void A_bad_yolo_label_fails_detect_training_naming_the_file(string line, string problem)
    {
        var data = Yolo("yolo", line);
        var (code, _, stderr) = Run(["train", data, "--task", "detect", "--output", Path.Combine(dir, "run"), .. TinyDetect]);
        Assert.Equal(2, code);
        Assert.Contains("dataset refused: ", stderr, StringComparison.Ordinal);
        Assert.Contains("labels/train/img0.txt", stderr, StringComparison.Ordinal);
        Assert.Contains(problem, stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"image": "img0.png", "prefix": "detect red ; blue", "suffix": "<loc1500><loc0100><loc0500><loc0500> red"}""", "data.jsonl:1")]
    [InlineData("""{"image": "img0.png", "prefix": "detect red ; blue" """, "data.jsonl:1")]
    public void A_bad_paligemma_line_fails_detect_training_naming_the_line(string bad, string where)
    {
        var folder = Directory.CreateDirectory(Path.Combine(dir, "pali")).FullName;
        var lines = new List<string> { bad };
        for (var k = 0; k < 6; k++)
        {
            File.WriteAllBytes(Path.Combine(folder, $"img{k}.png"), Png(k, 32, 32));
            if (k > 0) lines.Add($$"""{"image": "img{{k}}.png", "prefix": "detect red ; blue", "suffix": "<loc0100><loc0100><loc0500><loc0500> red"}""");
        }
        File.WriteAllBytes(Path.Combine(folder, "img0.png"), Png(0, 32, 32));
        File.WriteAllLines(Path.Combine(folder, "data.jsonl"), lines);
        var (code, _, stderr) = Run(["train", folder, "--task", "detect", "--output", Path.Combine(dir, "run"), .. TinyDetect]);
        Assert.Equal(2, code);
        Assert.Contains($"dataset refused: {Path.Combine(folder, where)}", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_coco_file_that_is_not_json_fails_naming_it()
    {
        var folder = Directory.CreateDirectory(Path.Combine(dir, "coco")).FullName;
        File.WriteAllBytes(Path.Combine(folder, "a.png"), Png(1, 32, 32));
        File.WriteAllText(Path.Combine(folder, "_annotations.coco.json"), "this is not { json");
        var (code, _, stderr) = Run(["train", folder, "--task", "detect", "--output", Path.Combine(dir, "run"), .. TinyDetect]);
        Assert.Equal(2, code);
        Assert.Contains($"{Path.Combine(folder, "_annotations.coco.json")}: malformed JSON", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Nproc_is_bounded_and_a_bad_dataset_fails_before_any_rank_starts()
    {
        var (code, _, stderr) = Run("train", FashionMnist.DebianPath, "--nproc", "65");
        Assert.Equal(2, code);
        Assert.Contains("--nproc 65: must be between 1 and 64", stderr, StringComparison.Ordinal);

        var folder = ImageFolder("one-class", ("red", 6));
        (code, _, stderr) = Run(["train", folder, "--nproc", "2", "--output", Path.Combine(dir, "run"), .. TinyClassify]);
        Assert.Equal(2, code);
        Assert.Contains("at least 2 classes", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("launched", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("rank", stderr, StringComparison.Ordinal);
    }

    private string ImageFolder(string name, params (string Class, int Count)[] classes)
    {
        var root = Path.Combine(dir, name);
        var seed = 0;
        foreach (var (label, count) in classes)
        {
            Directory.CreateDirectory(Path.Combine(root, label));
            for (var k = 0; k < count; k++) File.WriteAllBytes(Path.Combine(root, label, $"{k}.png"), Png(seed++, 16, 16, label == "red" ? 0 : 2));
        }
        return root;
    }

    /// <summary>A YOLO set of six images with one box each; the first image's label file holds <paramref name="firstLine"/>.</summary>
    private string Yolo(string name, string firstLine)
    {
        var root = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.Combine(root, "images", "train"));
        Directory.CreateDirectory(Path.Combine(root, "labels", "train"));
        File.WriteAllText(Path.Combine(root, "data.yaml"), "names: [red, blue]\n");
        for (var k = 0; k < 6; k++)
        {
            File.WriteAllBytes(Path.Combine(root, "images", "train", $"img{k}.png"), Png(k, 32, 32));
            File.WriteAllText(Path.Combine(root, "labels", "train", $"img{k}.txt"), k == 0 ? firstLine + "\n" : $"{k % 2} 0.5 0.5 0.4 0.4\n");
        }
        return root;
    }

    private string Zip(string folder)
    {
        var archive = folder + ".zip";
        ZipFile.CreateFromDirectory(folder, archive, CompressionLevel.Fastest, includeBaseDirectory: true);
        return archive;
    }

    private string TarGz(string folder)
    {
        var archive = folder + ".tar.gz";
        using (var file = File.Create(archive))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
            TarFile.CreateFromDirectory(folder, gzip, includeBaseDirectory: true);
        return archive;
    }

    /// <summary>A distinct PNG (seeded noise) whose colour channel <paramref name="channel"/> is bright.</summary>
    private static byte[] Png(int seed, int width, int height, int channel = 0)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * 3];
        random.NextBytes(pixels);
        for (var p = 0; p < width * height; p++) pixels[3 * p + channel] = (byte)(200 + pixels[3 * p + channel] % 56);
        return PngCodec.Encode(new ImageBuffer(width, height, 3, pixels));
    }
}
