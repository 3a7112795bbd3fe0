using System.Text.Json;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Imaging;
using Xunit.Abstractions;

namespace Pipeline.Services.Tests;

/// <summary>A generated detection set from submission to an evaluated detector that answers with boxes, through all
/// four services as separate processes, trained by two trainer replicas as one group; broken annotations fail their jobs naming the file.</summary>
[Collection(ServicesCollection.Name)]
public sealed class DetectionPipelineTests(ServicesFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("detection-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // Small on purpose (CI has 2 cores): 200 training images at 64x80 with the narrowest pyramid and head; the canvases
    // are the input size, so preprocessing only decodes.
    private static readonly DetectionSetOptions Set = new()
    {
        Seed = 11, TrainImages = 200, ValImages = 40, TestImages = 40, Width = 80, Height = 64, MinSide = 20, MaxSide = 40, MaxObjects = 3,
    };
    private static readonly string[] Recipe =
    [
        "--input.size=[64, 80]", "--epochs=6", "--batch_size=16", "--optimizer.lr=0.003", "--detection.fpn_channels=32", "--detection.head_convs=1",
        "--log_every=5", "--early_stopping.patience=6", "--seed=1",
    ];
    private const double Map50Floor = 0.03; // a detector at chance gets about 0

    [Fact]
    public async Task A_generated_detection_set_becomes_an_evaluated_detector_that_answers_with_boxes()
    {
        var folder = Path.Combine(dir, "set");
        new DetectionSetGenerator().Write(folder, Set);
        // Two trainers asked for: the detector trains as a data-parallel group of both.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, stdout, stderr) = await fixture.CliAsync(["submit", folder, "--task", "detect", "--format", "coco", "--trainers", "2", "--wait", "--json", .. Recipe]);
        Assert.True(code == 0, $"submit --wait exited {code}: {stderr}\n{stdout}");
        var summary = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal("Succeeded", summary.GetProperty("state").GetString());
        var id = summary.GetProperty("job").GetString()!;
        var test = summary.GetProperty("test");
        var map50 = test.GetProperty("map50").GetDouble();
        output.WriteLine($"submit --wait: {clock.Elapsed.TotalSeconds:F0} s, test {test}");
        Assert.True(map50 >= Map50Floor, $"test mAP@.5 {map50:F4} is below the floor {Map50Floor}");
        Assert.InRange(test.GetProperty("map").GetDouble(), 0, map50);

        var detail = await fixture.WaitForJobAsync(id, "Succeeded");
        Assert.Equal("detect", detail.GetProperty("job").GetProperty("task").GetString());
        var events = detail.GetProperty("events").EnumerateArray().ToList();
        var kinds = events.Select(e => e.GetProperty("kind").GetString()).ToHashSet();
        foreach (var kind in (string[])["DatasetPrepared", "TrainingStarted", "TrainingProgress", "CheckpointSaved", "TrainingCompleted", "EvaluationCompleted"])
            Assert.Contains(kind, kinds);
        var started = JsonDocument.Parse(events.First(e => e.GetProperty("kind").GetString() == "TrainingStarted").GetProperty("payload").GetString()!).RootElement;
        Assert.Equal(2, started.GetProperty("worldSize").GetInt32());
        Assert.Equal(2, started.GetProperty("members").GetArrayLength());
        var metrics = detail.GetProperty("metrics").EnumerateArray().ToList();
        Assert.Contains(metrics, m => m.GetProperty("name").GetString() == "loss" && m.GetProperty("split").GetString() == "train");
        var validated = metrics.Count(m => m.GetProperty("name").GetString() == "map50" && m.GetProperty("split").GetString() == "val");
        Assert.InRange(validated, 1, 6);

        // pipeline download: the test report is the detection report of the 40 test images, with its PR curves.
        var downloads = Path.Combine(dir, "download");
        (code, _, stderr) = await fixture.CliAsync("download", id, downloads);
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(Path.Combine(downloads, "model", "best.safetensors")));
        var report = DetectionReport.FromJson(File.ReadAllText(Path.Combine(downloads, "reports", "test.json")));
        Assert.Equal(Set.TestImages, report.Images);
        Assert.Equal(map50, report.Map50!.Value, 6);
        var curves = PngCodec.Decode(File.ReadAllBytes(Path.Combine(downloads, "reports", "pr_curves.png")), "pr_curves.png");
        Assert.True(curves.Width > 200 && curves.Height > 200);

        // pipeline predict: a test image comes back with boxes of the set's classes inside the image.
        var image = Path.Combine(folder, "images", "test", "00000.png");
        (code, stdout, stderr) = await fixture.CliAsync("predict", id, image, "--json");
        Assert.True(code == 0, stderr);
        var boxes = JsonDocument.Parse(stdout).RootElement.GetProperty("boxes").EnumerateArray().ToList();
        Assert.True(boxes.Count >= 1, $"no boxes for {image}: {stdout}");
        foreach (var box in boxes)
        {
            Assert.Contains(box.GetProperty("label").GetString(), FashionMnist.ClassNames);
            Assert.InRange(box.GetProperty("score").GetDouble(), 0.3, 1);
            Assert.InRange(box.GetProperty("x1").GetDouble(), 0, box.GetProperty("x2").GetDouble());
            Assert.InRange(box.GetProperty("x2").GetDouble(), 0, Set.Width);
            Assert.InRange(box.GetProperty("y2").GetDouble(), box.GetProperty("y1").GetDouble(), Set.Height);
        }
        (code, stdout, stderr) = await fixture.CliAsync("predict", id, image);
        Assert.True(code == 0, stderr);
        Assert.Contains(boxes[0].GetProperty("label").GetString()!, stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_box_outside_its_image_or_an_unknown_category_fails_the_job_naming_the_file()
    {
        // Submitted without --task: the COCO file makes them detection datasets.
        var outside = Coco("outside", """{"id":2,"image_id":2,"category_id":0,"bbox":[4,4,30,4]}""");
        var unknown = Coco("unknown", """{"id":2,"image_id":2,"category_id":9,"bbox":[1,1,4,4]}""");
        var jobs = new Dictionary<string, string>();
        foreach (var folder in (string[])[outside, unknown])
        {
            var (code, stdout, stderr) = await fixture.CliAsync("submit", folder);
            Assert.True(code == 0, $"{folder}: {stderr}");
            jobs[folder] = stdout.Trim();
        }
        foreach (var (folder, expected) in new[] { (outside, "reaches outside images/b.png (10x12)"), (unknown, "9") })
        {
            var job = (await fixture.WaitForJobAsync(jobs[folder], "Failed", "Prepared", "Succeeded")).GetProperty("job");
            Assert.True(job.GetProperty("state").GetString() == "Failed", $"{folder}: {job}");
            Assert.Equal("detect", job.GetProperty("task").GetString());
            var reason = job.GetProperty("reason").GetString()!;
            Assert.Contains("_annotations.coco.json", reason, StringComparison.Ordinal);
            Assert.Contains(expected, reason, StringComparison.Ordinal);
        }
    }

    /// <summary>A COCO folder of two 10x12 images whose second annotation is <paramref name="second"/>.</summary>
    private string Coco(string name, string second)
    {
        var folder = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.Combine(folder, "images"));
        for (var k = 0; k < 2; k++)
        {
            var pixels = new byte[10 * 12 * 3];
            new Random(k).NextBytes(pixels);
            File.WriteAllBytes(Path.Combine(folder, "images", $"{(char)('a' + k)}.png"), PngCodec.Encode(new ImageBuffer(10, 12, 3, pixels)));
        }
        File.WriteAllText(Path.Combine(folder, "_annotations.coco.json"),
            """{"images":[{"id":1,"file_name":"images/a.png","width":10,"height":12},{"id":2,"file_name":"images/b.png","width":10,"height":12}],"categories":[{"id":0,"name":"red"}],"annotations":[{"id":1,"image_id":1,"category_id":0,"bbox":[1,1,4,4]},"""
            + second + "]}");
        return folder;
    }
}
