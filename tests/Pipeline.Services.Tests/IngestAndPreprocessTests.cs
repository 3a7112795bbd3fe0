using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Pipeline.Storage;

namespace Pipeline.Services.Tests;

[Collection(ServicesCollection.Name)]
public sealed class IngestAndPreprocessTests(ServicesFixture fixture)
{
    [Fact]
    public async Task Calls_without_the_api_key_get_401_and_no_data()
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.App.GetEndpoint("ingest") };
        var response = await anonymous.GetAsync(new Uri("/api/jobs", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        // No data: only a problem that says how to authenticate.
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(
            ["detail", "status", "title", "traceId", "type"],
            problem.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Contains("X-Api-Key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/jobs");
        wrong.Headers.Add("X-Api-Key", "not-the-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(wrong)).StatusCode);
    }

    [Fact]
    public async Task Fashion_mnist_is_validated_stored_and_prepared_into_stratified_shards()
    {
        var id = await SubmitAsync("/usr/share/datasets/fashion-mnist");
        // A free trainer takes a prepared job at once, so the state may already be past Prepared when polled.
        var detail = await fixture.WaitForJobAsync(id, "Prepared", "Training", "Evaluating", "Succeeded", "Failed");
        Assert.NotEqual("Failed", detail.GetProperty("job").GetProperty("state").GetString());
        var datasetId = detail.GetProperty("job").GetProperty("datasetId").GetString()!;
        var kinds = detail.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
        Assert.Contains("SubmitDataset", kinds);
        Assert.Contains("JobStatusChanged", kinds);
        Assert.Contains("DatasetIngested", kinds);
        Assert.Contains("PreprocessingStarted", kinds);
        Assert.Contains("DatasetPrepared", kinds);

        using var store = new AzureBlobStore(fixture.App.GetConnectionString("blobs"));
        var names = new List<string>();
        await foreach (var blob in store.ListAsync("datasets", datasetId + "/")) names.Add(blob.Name);
        Assert.Contains($"{datasetId}/manifest.json", names);
        Assert.Contains($"{datasetId}/raw/train-images-idx3-ubyte.gz", names);
        await using var reportStream = await store.DownloadAsync("datasets", $"{datasetId}/report.json");
        var report = await JsonSerializer.DeserializeAsync<JsonElement>(reportStream);
        var trainCounts = report.GetProperty("splits").EnumerateArray().Single(s => s.GetProperty("split").GetString() == "train");
        Assert.Equal(60000, trainCounts.GetProperty("images").GetInt64());
        Assert.Equal("idx", report.GetProperty("format").GetString());
        Assert.Equal("T-shirt/top", report.GetProperty("classes")[0].GetString());
        Assert.Empty(report.GetProperty("problems").EnumerateArray());

        // 10% of each class of the training split is held out for validation; the test split is kept.
        await using var manifestStream = await store.DownloadAsync("datasets", $"{datasetId}/prepared/manifest.json");
        var splits = (await JsonSerializer.DeserializeAsync<JsonElement>(manifestStream)).GetProperty("splits");
        Assert.Equal(54000, splits.GetProperty("train").GetInt64());
        Assert.Equal(6000, splits.GetProperty("val").GetInt64());
        Assert.Equal(10000, splits.GetProperty("test").GetInt64());
        await using var shard = await store.DownloadAsync("datasets", $"{datasetId}/prepared/val.safetensors");
        using var copy = new MemoryStream();
        await shard.CopyToAsync(copy);
        copy.Position = 0;
        using var validation = Pipeline.Vision.Data.TensorDatasetShards.Read(copy, "val.safetensors");
        Assert.All(validation.ClassCounts(), c => Assert.Equal(600, c));

        // Training all of Fashion-MNIST is not this test's business: cancelled, the trainers never start it.
        var (code, _, stderr) = await fixture.CliAsync("cancel", id);
        Assert.True(code == 0, stderr);
        Assert.Equal("Cancelled", (await fixture.WaitForJobAsync(id, "Cancelled")).GetProperty("job").GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_folder_without_a_dataset_fails_the_job_naming_the_folder_and_the_service_carries_on()
    {
        var empty = Directory.CreateTempSubdirectory("not-a-dataset-").FullName;
        File.WriteAllText(Path.Combine(empty, "notes.txt"), "no images here");
        var bad = await SubmitAsync(empty);
        var detail = await fixture.WaitForJobAsync(bad, "Failed", "Prepared", "Training", "Succeeded");
        var job = detail.GetProperty("job");
        Assert.Equal("Failed", job.GetProperty("state").GetString());
        Assert.Contains(empty, job.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("not a known dataset layout", job.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_corrupt_label_file_fails_the_job_naming_the_file()
    {
        var dir = Directory.CreateTempSubdirectory("bad-idx-").FullName;
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7]);
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 1, 42]);
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7]);
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 1]);
        var id = await SubmitAsync(dir);
        var reason = (await fixture.WaitForJobAsync(id, "Failed", "Prepared", "Training", "Succeeded")).GetProperty("job").GetProperty("reason").GetString();
        Assert.Contains(Path.Combine(dir, "train-labels-idx1-ubyte"), reason, StringComparison.Ordinal);
        Assert.Contains("label 42", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_relative_path_is_refused_up_front()
    {
        var response = await fixture.Http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new { path = "datasets/x" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("absolute", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    // More trainers than replicas: the group could never form (it waited, then trained with fewer).
    [InlineData("{\"path\":\"/usr/share/datasets/fashion-mnist\",\"trainers\":3}", "trainers 3", "at most 2")]
    [InlineData("{\"path\":\"/usr/share/datasets/fashion-mnist\",\"format\":\"pascal-voc\"}", "format 'pascal-voc'", "imagefolder")]
    [InlineData("{\"source\":\"blob:uploads/x\"}", "source 'blob:uploads/x'", "POST /api/uploads")]
    [InlineData("{\"source\":\"blob:uploads/0123456789abcdef0123456789abcdef/data.zip\"}", "no such upload", "POST /api/uploads")]
    public async Task A_submission_that_cannot_run_is_refused_with_a_problem_naming_the_field(string body, string names, string says)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        var before = (await fixture.Http.GetFromJsonAsync<JsonElement>(new Uri("/api/jobs?limit=1000", UriKind.Relative))).GetArrayLength();
        var response = await fixture.Http.PostAsync(new Uri("/api/jobs", UriKind.Relative), content);
        var problem = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, problem);
        Assert.Contains(names, problem, StringComparison.Ordinal);
        Assert.Contains(says, problem, StringComparison.OrdinalIgnoreCase);
        // Refused means no job was created.
        Assert.Equal(before, (await fixture.Http.GetFromJsonAsync<JsonElement>(new Uri("/api/jobs?limit=1000", UriKind.Relative))).GetArrayLength());
    }

    private async Task<string> SubmitAsync(string path)
    {
        var response = await fixture.Http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new { path, task = "classify" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
        return job.GetProperty("id").GetString()!;
    }
}
