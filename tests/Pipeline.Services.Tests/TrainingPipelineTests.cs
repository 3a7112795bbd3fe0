using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Pipeline.Storage;
using Pipeline.Vision.Data;

namespace Pipeline.Services.Tests;

/// <summary>From submission to an evaluated model, through all four services as separate processes.</summary>
public sealed class TrainingPipelineTests(ServicesFixture fixture) : IClassFixture<ServicesFixture>
{
    // Small on purpose (CI has 2 cores): 1,500 training and 500 test images, two epochs of a narrow CNN.
    private const string Recipe = "epochs: 2\nbatch_size: 50\nmodel: { name: small_cnn, width: 8 }\n";
    private const double AccuracyFloor = 0.45; // chance is 0.10

    [Fact]
    public async Task A_fashion_mnist_subset_becomes_an_evaluated_model()
    {
        var dataset = WriteSubset(1500, 500);
        var response = await fixture.Http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new { path = dataset, task = "classify", recipeYaml = Recipe });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;

        var detail = await fixture.WaitForJobAsync(id, TimeSpan.FromMinutes(8), "Succeeded", "Failed");
        var job = detail.GetProperty("job");
        Assert.True(job.GetProperty("state").GetString() == "Succeeded", $"job ended {job}");

        var kinds = detail.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToHashSet();
        foreach (var kind in (string[])["DatasetPrepared", "TrainingStarted", "TrainingProgress", "CheckpointSaved", "TrainingCompleted", "EvaluationCompleted"])
            Assert.Contains(kind, kinds);
        var metrics = detail.GetProperty("metrics").EnumerateArray().ToList();
        Assert.Contains(metrics, m => m.GetProperty("name").GetString() == "loss" && m.GetProperty("split").GetString() == "train");
        Assert.Equal(2, metrics.Count(m => m.GetProperty("name").GetString() == "accuracy" && m.GetProperty("split").GetString() == "val"));
        var testAccuracy = metrics.Single(m => m.GetProperty("name").GetString() == "accuracy" && m.GetProperty("split").GetString() == "test").GetProperty("value").GetDouble();
        Assert.True(testAccuracy >= AccuracyFloor, $"test accuracy {testAccuracy:P1} is below the floor {AccuracyFloor:P0}");

        using var store = new AzureBlobStore(fixture.App.GetConnectionString("blobs"));
        var jobKey = Guid.Parse(id).ToString("N");
        Assert.NotNull(await store.GetPropertiesAsync("jobs", $"{jobKey}/model/best.safetensors"));
        await using var report = await store.DownloadAsync("jobs", $"{jobKey}/reports/test.json");
        var testReport = await JsonSerializer.DeserializeAsync<JsonElement>(report);
        Assert.Equal(500, testReport.GetProperty("count").GetInt64());
        Assert.Equal(10, testReport.GetProperty("confusion_matrix").GetArrayLength());
        Assert.NotNull(await store.GetPropertiesAsync("jobs", $"{jobKey}/reports/confusion_matrix.png"));
    }

    /// <summary>The first images of Fashion-MNIST's test split, written as an IDX dataset folder.</summary>
    private static string WriteSubset(int train, int test)
    {
        var folder = Directory.CreateTempSubdirectory("fashion-subset-").FullName;
        using var source = FashionMnist.Load(FashionMnist.DebianPath, "t10k");
        var images = source.Images.ToArray<byte>();
        var labels = source.Labels.ToArray<long>();
        WriteSplit(folder, "train", images, labels, 0, train);
        WriteSplit(folder, "t10k", images, labels, train, test);
        return folder;
    }

    private static void WriteSplit(string folder, string split, byte[] images, long[] labels, int start, int count)
    {
        const int pixels = 28 * 28;
        var imageFile = new byte[16 + count * pixels];
        imageFile[2] = 8;
        imageFile[3] = 3;
        BinaryPrimitives.WriteInt32BigEndian(imageFile.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(imageFile.AsSpan(8), 28);
        BinaryPrimitives.WriteInt32BigEndian(imageFile.AsSpan(12), 28);
        images.AsSpan(start * pixels, count * pixels).CopyTo(imageFile.AsSpan(16));
        var labelFile = new byte[8 + count];
        labelFile[2] = 8;
        labelFile[3] = 1;
        BinaryPrimitives.WriteInt32BigEndian(labelFile.AsSpan(4), count);
        for (var k = 0; k < count; k++) labelFile[8 + k] = (byte)labels[start + k];
        File.WriteAllBytes(Path.Combine(folder, $"{split}-images-idx3-ubyte"), imageFile);
        File.WriteAllBytes(Path.Combine(folder, $"{split}-labels-idx1-ubyte"), labelFile);
    }
}
