using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace Pipeline.AppHost.Tests;

/// <summary>
/// The run folder is the system's memory: after kill -9 of the AppHost, <c>dotnet run --project AppHost -- --data-dir</c>
/// on the same folder lists the same jobs (a finished one with its metrics) and the job that was training when the
/// AppHost died resumes from its last stored checkpoint, not from the start, and ends evaluated.
/// </summary>
public sealed class KeptDataRestartTests(ITestOutputHelper log)
{
    // The caller's key, given to both runs: a run without one makes a new key.
    private const string ApiKey = "6b6570742d646174612d746573742d6b";

    // A few seconds an epoch on two cores, and enough epochs that the AppHost (killed after the first checkpoint) dies
    // while it trains. The evaluator's early stop must not end it first: patience covers every epoch.
    private const string LongRecipe = """
        epochs: 10
        batch_size: 50
        log_every: 5
        model: {name: small_cnn, width: 8}
        early_stopping: {patience: 10}
        """;

    private const string ShortRecipe = """
        epochs: 1
        batch_size: 50
        model: {name: small_cnn, width: 8}
        """;

    [Fact]
    public async Task After_kill_9_of_the_AppHost_the_same_data_dir_lists_the_same_jobs_and_the_interrupted_one_resumes_from_its_checkpoint()
    {
        var root = Path.Combine(Path.GetTempPath(), "pipeline-tests", "keep-" + Guid.NewGuid().ToString("N")[..8]);
        var runDir = Path.Combine(root, "run");
        var dataset = FashionSubset.Write(Path.Combine(root, "datasets", "fashion-subset"), train: 800, test: 200);
        string[] settings = [$"--PIPELINE_API_KEY={ApiKey}", $"--PIPELINE_DATASET_ROOTS={Path.Combine(root, "datasets")}", "--PIPELINE_TRAINER_REPLICAS=1"];
        try
        {
            string finished, interrupted;
            JsonElement finishedBefore;
            long checkpointBefore;
            await using (var first = await RunningAppHost.StartAsync(log, runDir, settings))
            {
                using var api = Client(first);
                finished = await SubmitAsync(api, dataset, ShortRecipe);
                finishedBefore = await WaitForJobAsync(api, finished, d => IsTerminal(d));
                Assert.True(State(finishedBefore) == "Succeeded", finishedBefore.GetProperty("job").ToString());

                interrupted = await SubmitAsync(api, dataset, LongRecipe);
                var training = await WaitForJobAsync(api, interrupted, d => IsTerminal(d) || (State(d) == "Training" && Payloads(d, "CheckpointSaved").Any()));
                Assert.True(State(training) == "Training", training.GetProperty("job").ToString());
                checkpointBefore = Payloads(training, "CheckpointSaved").Max(c => c.GetProperty("step").GetInt64());
                log.WriteLine($"killing the AppHost with job {interrupted} training, its checkpoint of step {checkpointBefore} stored");
                var left = await first.KillAsync();
                Assert.True(left.Count == 0, "left after kill -9 of the AppHost:\n" + string.Join('\n', left));
            }

            await using (var second = await RunningAppHost.StartAsync(log, runDir, settings))
            {
                using var api = Client(second);
                var listed = await api.GetFromJsonAsync<JsonElement>(new Uri("/api/jobs", UriKind.Relative));
                var ids = listed.EnumerateArray().Select(j => j.GetProperty("id").GetString()!).ToList();
                Assert.Equal(new[] { interrupted, finished }, ids);

                // The finished job is as it was: succeeded, with its test evaluation.
                var finishedAfter = await api.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{finished}", UriKind.Relative));
                Assert.Equal("Succeeded", State(finishedAfter));
                Assert.Equal(TestMetrics(finishedBefore), TestMetrics(finishedAfter));
                Assert.NotEmpty(TestMetrics(finishedAfter));

                // The interrupted job's training message was never acknowledged: the broker kept it and hands it out again,
                // and the trainer resumes from the last checkpoint in the kept blobs.
                var done = await WaitForJobAsync(api, interrupted, d => IsTerminal(d), TimeSpan.FromMinutes(15));
                Assert.True(State(done) == "Succeeded", done.GetProperty("job").ToString());
                var starts = Payloads(done, "TrainingStarted").Select(s => s.GetProperty("resumedFromStep").GetInt64()).ToList();
                log.WriteLine($"training started from steps {string.Join(", ", starts)}");
                Assert.Equal(0, starts[0]);
                Assert.True(starts.Count >= 2, $"job {interrupted} was not started again after the restart");
                Assert.All(starts.Skip(1), step => Assert.True(step > 0, $"job {interrupted} started again from step {step}, not from its checkpoint"));
                Assert.True(starts[^1] >= checkpointBefore, $"the last start was from step {starts[^1]}, before the checkpoint of step {checkpointBefore} stored before the kill");
                // It resumed from a checkpoint the registry recorded.
                Assert.Contains(starts[^1], Payloads(done, "CheckpointSaved").Select(c => c.GetProperty("step").GetInt64()));
                Assert.NotEmpty(TestMetrics(done));
            }
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static HttpClient Client(RunningAppHost run)
    {
        var client = new HttpClient { BaseAddress = run.PipelineUrl };
        client.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        return client;
    }

    private static async Task<string> SubmitAsync(HttpClient api, string dataset, string recipe)
    {
        using var response = await api.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new { path = dataset, task = "classify", recipeYaml = recipe, trainers = 1 });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<JsonElement> WaitForJobAsync(HttpClient api, string id, Func<JsonElement, bool> until, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromMinutes(10));
        JsonElement detail;
        do
        {
            detail = await api.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));
            if (until(detail)) return detail;
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"job {id} is still {State(detail)}: {detail.GetProperty("job")}\n{string.Join('\n', detail.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()))}");
        return detail;
    }

    private static string? State(JsonElement detail) => detail.GetProperty("job").GetProperty("state").GetString();

    private static bool IsTerminal(JsonElement detail) => State(detail) is "Succeeded" or "Failed" or "Cancelled";

    private static IEnumerable<JsonElement> Payloads(JsonElement detail, string kind) =>
        detail.GetProperty("events").EnumerateArray().Where(e => e.GetProperty("kind").GetString() == kind)
            .Select(e => JsonDocument.Parse(e.GetProperty("payload").GetString()!).RootElement);

    private static List<(string?, double)> TestMetrics(JsonElement detail) =>
        [.. detail.GetProperty("metrics").EnumerateArray().Where(m => m.GetProperty("split").GetString() == "test")
            .Select(m => (m.GetProperty("name").GetString(), m.GetProperty("value").GetDouble()))];
}
