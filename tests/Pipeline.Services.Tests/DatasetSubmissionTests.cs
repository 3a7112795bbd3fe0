using System.Text.Json;
using Pipeline.Storage;
using Pipeline.Vision.Imaging;

namespace Pipeline.Services.Tests;

/// <summary>Archives uploaded through the CLI are prepared as their recipe says; damaged and duplicate images are left
/// out and listed (the bad-input corpus is <see cref="HostileInputTests"/>).</summary>
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
    public async Task Damaged_and_duplicate_images_are_left_out_listed_in_the_report_and_the_rest_is_prepared_and_trained()
    {
        var entries = new List<(string, byte[])>();
        for (var k = 0; k < 20; k++)
        {
            entries.Add(($"red/{k:D3}.png", HostileCorpus.Png(k, 20, 24, red: true)));
            entries.Add(($"blue/{k:D3}.png", HostileCorpus.Png(1000 + k, 20, 24, red: false)));
        }
        // A PNG cut short (its header still reads well: only decoding finds it out) and a byte-for-byte copy.
        var whole = HostileCorpus.Png(77, 20, 24, red: true);
        entries.Add(("red/cut-short.png", whole[..(whole.Length / 2)]));
        entries.Add(("blue/copy.png", entries[1].Item2));
        var archive = new HostileCorpus(dir).Zip("damaged.zip", [.. entries]);
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
            entries.Add(($"red/{k:D3}.png", HostileCorpus.Png(k, 20 + k % 5, 24, red: true)));
            entries.Add(($"blue/{k:D3}.png", HostileCorpus.Png(1000 + k, 20 + k % 5, 24, red: false)));
        }
        return new HostileCorpus(dir).Zip(name, [.. entries]);
    }
}
