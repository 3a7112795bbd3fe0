using System.IO.Compression;
using System.Text.Json;
using Pipeline.Storage;
using Pipeline.Vision.Imaging;

namespace Pipeline.Services.Tests;

/// <summary>Archives uploaded through the CLI: a good one is prepared as its recipe says; a corpus of bad ones each
/// fails its job with a reason naming the file, and the system goes on to train a good job after them.</summary>
[Collection(ServicesCollection.Name)]
public sealed class DatasetSubmissionTests(ServicesFixture fixture) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("submissions-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task An_uploaded_image_folder_archive_is_split_and_resized_as_the_recipe_says()
    {
        var archive = ImageFolderZip("colours.zip", perClass: 30);
        var (code, stdout, stderr) = await fixture.CliAsync("submit", archive, "--input.size=[16,16]", "--data.validation_fraction=0.1", "--data.test_fraction=0.2", "--seed=3");
        Assert.True(code == 0, stderr);
        var id = stdout.Trim();
        // Such a small job may be trained and evaluated by the time the test looks: any state from Prepared on will do.
        var detail = await fixture.WaitForJobAsync(id, "Prepared", "Training", "Evaluating", "Succeeded", "Failed");
        Assert.NotEqual("Failed", detail.GetProperty("job").GetProperty("state").GetString());

        using var store = new AzureBlobStore(fixture.App.GetConnectionString("blobs"));
        var datasetId = detail.GetProperty("job").GetProperty("datasetId").GetString()!;
        Assert.NotNull(await store.GetPropertiesAsync("datasets", $"{datasetId}/raw/colours.zip"));
        await using var manifestStream = await store.DownloadAsync("datasets", $"{datasetId}/prepared/manifest.json");
        var manifest = await JsonSerializer.DeserializeAsync<JsonElement>(manifestStream);
        // No splits given: per class 3 for validation, 6 for test, the rest (21) for training.
        Assert.Equal(42, manifest.GetProperty("splits").GetProperty("train").GetInt64());
        Assert.Equal(6, manifest.GetProperty("splits").GetProperty("val").GetInt64());
        Assert.Equal(12, manifest.GetProperty("splits").GetProperty("test").GetInt64());
        Assert.Equal([3, 16, 16], manifest.GetProperty("imageShape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["blue", "red"], manifest.GetProperty("classes").EnumerateArray().Select(e => e.GetString()));
        // Not needed further: cancelled, unless the trainers already finished its few steps.
        (code, _, stderr) = await fixture.CliAsync("cancel", id);
        Assert.True(code == 0 || stderr.Contains("already Succeeded", StringComparison.Ordinal), stderr);
    }

    [Fact]
    public async Task Each_bad_input_fails_its_job_naming_the_file_and_a_good_job_after_them_succeeds()
    {
        var corpus = new Dictionary<string, string>
        {
            // archive → text its job's reason must contain (besides the archive's name)
            [Write("corrupt.zip", [0x50, 0x4B, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7, 8, 9])] = "",
            [Zip("escaping.zip", ("red/a.png", Png(1, 10, 12)), ("red/b.png", Png(2, 10, 12)), ("../evil.png", Png(3, 10, 12)))] = "evil.png",
            [Zip("bomb.zip", ("red/a.png", Png(1, 10, 12)), ("blue/b.png", Png(2, 10, 12)), ("blue/huge.png", Bomb()))] = "huge.png",
            [Zip("unknown-format.zip", ("notes/a.txt", "hello"u8.ToArray()), ("notes/b.txt", "world"u8.ToArray()))] = "not a known dataset layout",
            [Zip("empty.zip")] = "empty",
            [Zip("wrong-class.zip", ("images/a.png", Png(1, 10, 12)), ("images/b.png", Png(2, 10, 12)),
                ("_annotations.coco.json", """{"images":[{"id":1,"file_name":"images/a.png","width":10,"height":12},{"id":2,"file_name":"images/b.png","width":10,"height":12}],"categories":[{"id":0,"name":"red"}],"annotations":[{"id":1,"image_id":1,"category_id":0,"bbox":[1,1,4,4]},{"id":2,"image_id":2,"category_id":9,"bbox":[1,1,4,4]}]}"""u8.ToArray()))] = "",
        };
        var jobs = new Dictionary<string, string>();
        foreach (var archive in corpus.Keys)
        {
            var (code, stdout, stderr) = await fixture.CliAsync("submit", archive, "--task", archive.EndsWith("wrong-class.zip", StringComparison.Ordinal) ? "detect" : "classify");
            Assert.True(code == 0, $"{archive}: {stderr}");
            jobs[archive] = stdout.Trim();
        }
        foreach (var (archive, expected) in corpus)
        {
            var job = (await fixture.WaitForJobAsync(jobs[archive], "Failed", "Prepared", "Succeeded")).GetProperty("job");
            Assert.True(job.GetProperty("state").GetString() == "Failed", $"{archive}: {job}");
            var reason = job.GetProperty("reason").GetString()!;
            Assert.Contains(Path.GetFileName(archive), reason, StringComparison.Ordinal);
            Assert.Contains(expected, reason, StringComparison.Ordinal);
            // Named as the user knows it, not by the service's temporary copy of the upload.
            Assert.DoesNotContain("pipeline-ingest-", reason, StringComparison.Ordinal);
        }

        // The services are still up: a good archive right after trains to an evaluated model.
        var good = ImageFolderZip("good.zip", perClass: 40);
        var (goodCode, goodOut, goodErr) = await fixture.CliAsync("submit", good, "--wait", "--json", "--epochs=4", "--input.size=[16,16]",
            "--model.name=small_cnn", "--model.width=4", "--batch_size=8", "--log_every=2");
        Assert.True(goodCode == 0, $"{goodErr}\n{goodOut}");
        var summary = JsonDocument.Parse(goodOut.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal("Succeeded", summary.GetProperty("state").GetString());
        Assert.True(summary.GetProperty("test").GetProperty("accuracy").GetDouble() >= 0.75, goodOut);
    }

    [Fact]
    public async Task Damaged_and_duplicate_images_are_left_out_listed_in_the_report_and_the_rest_is_prepared_and_trained()
    {
        var entries = new List<(string, byte[])>();
        for (var k = 0; k < 20; k++)
        {
            entries.Add(($"red/{k:D3}.png", Png(k, 20, 24, red: true)));
            entries.Add(($"blue/{k:D3}.png", Png(1000 + k, 20, 24, red: false)));
        }
        // A PNG cut short (its header still reads well: only decoding finds it out) and a byte-for-byte copy.
        var whole = Png(77, 20, 24, red: true);
        entries.Add(("red/cut-short.png", whole[..(whole.Length / 2)]));
        entries.Add(("blue/copy.png", entries[1].Item2));
        var archive = Zip("damaged.zip", [.. entries]);
        var (code, stdout, stderr) = await fixture.CliAsync("submit", archive, "--wait", "--json", "--epochs=1", "--input.size=[16,16]",
            "--model.name=small_cnn", "--model.width=4", "--batch_size=8", "--log_every=2");
        Assert.True(code == 0, $"{stderr}\n{stdout}");
        var id = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("job").GetString()!;
        var job = (await fixture.WaitForJobAsync(id, "Succeeded")).GetProperty("job");

        using var store = new AzureBlobStore(fixture.App.GetConnectionString("blobs"));
        var datasetId = job.GetProperty("datasetId").GetString()!;
        await using var reportStream = await store.DownloadAsync("datasets", $"{datasetId}/report.json");
        var report = await JsonSerializer.DeserializeAsync<JsonElement>(reportStream);
        Assert.Equal(40, report.GetProperty("itemsKept").GetInt32());
        Assert.Equal(2, report.GetProperty("itemsSkipped").GetInt32());
        var problems = report.GetProperty("problems").EnumerateArray().ToDictionary(p => p.GetProperty("item").GetString()!);
        Assert.Equal("truncatedImage", problems["red/cut-short.png"].GetProperty("kind").GetString());
        Assert.Equal("damaged.zip!/red/cut-short.png", problems["red/cut-short.png"].GetProperty("file").GetString());
        Assert.Equal("duplicateFile", problems["blue/copy.png"].GetProperty("kind").GetString());
        Assert.Equal("damaged.zip", report.GetProperty("source").GetString());
        // Preprocessing kept exactly the images ingest kept.
        await using var manifestStream = await store.DownloadAsync("datasets", $"{datasetId}/prepared/manifest.json");
        var splits = (await JsonSerializer.DeserializeAsync<JsonElement>(manifestStream)).GetProperty("splits");
        Assert.Equal(40, splits.EnumerateObject().Sum(s => s.Value.GetInt64()));
    }

    /// <summary>Two trivially separable classes: reddish and bluish noise, of varying sizes (as real folders have).</summary>
    private string ImageFolderZip(string name, int perClass)
    {
        var entries = new List<(string, byte[])>();
        for (var k = 0; k < perClass; k++)
        {
            entries.Add(($"red/{k:D3}.png", Png(k, 20 + k % 5, 24, red: true)));
            entries.Add(($"blue/{k:D3}.png", Png(1000 + k, 20 + k % 5, 24, red: false)));
        }
        return Zip(name, [.. entries]);
    }

    internal static byte[] Png(int seed, int width, int height, bool red = true)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * 3];
        for (var p = 0; p < width * height; p++)
        {
            pixels[3 * p] = (byte)(red ? 160 + random.Next(96) : random.Next(96));
            pixels[3 * p + 1] = (byte)random.Next(96);
            pixels[3 * p + 2] = (byte)(red ? random.Next(96) : 160 + random.Next(96));
        }
        return PngCodec.Encode(new ImageBuffer(width, height, 3, pixels));
    }

    /// <summary>A PNG whose header claims 60000 x 60000 pixels.</summary>
    private static byte[] Bomb()
    {
        var png = Png(7, 1, 1);
        byte[] big = [0, 0, 0xEA, 0x60];
        big.CopyTo(png, 16);
        big.CopyTo(png, 20);
        return png;
    }

    private string Zip(string name, params (string Entry, byte[] Content)[] entries)
    {
        var path = Path.Combine(dir, name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entry, content) in entries)
        {
            using var stream = zip.CreateEntry(entry).Open();
            stream.Write(content);
        }
        return path;
    }

    private string Write(string name, byte[] content)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, content);
        return path;
    }
}
