using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Pipeline.Services.Tests;

/// <summary>A hyper-parameter sweep through the four services: its trials are jobs the trainer replicas train side by
/// side, ASHA stops the weak ones over the bus, and the best trial's job is the sweep's result.</summary>
[Collection(ServicesCollection.Name)]
public sealed class SweepTests(ServicesFixture fixture)
{
    // Eight trials on the two trainer replicas: two learning rates that learn and six that cannot (1e-6: the validation
    // accuracy stays near chance), in the grid's order. Two trials at a time: the weak ones start only once a strong one
    // has ended, so they meet ASHA's first rung with the strong ones' values recorded there, whatever the machine's speed;
    // keeping the best quarter (at most 2 of the 8) there, every weak one stops.
    private const string Recipe = """
        model: {name: small_cnn, width: 8}
        epochs: 12
        batch_size: 50
        schedule: {warmup_epochs: 0.2}
        early_stopping: {patience: null}
        log_every: 10
        """;

    private const string Sweep = """
        search: grid
        parallel: 2
        scheduler: asha
        asha: {min_epochs: 1, reduction: 4}
        metric: accuracy
        space:
          optimizer.lr: [0.05, 0.03, 0.000001, 0.000002, 0.000003, 0.000004, 0.000005, 0.000006]
        """;

    [Fact]
    public async Task A_sweep_trains_its_trials_stops_the_weak_ones_through_ASHA_and_reports_the_best()
    {
        var dataset = TrainingPipelineTests.WriteSubset(1500, 300);
        using var response = await fixture.Http.PostAsJsonAsync(new Uri("/api/sweeps", UriKind.Relative),
            new { path = dataset, task = "classify", recipeYaml = Recipe, sweepYaml = Sweep });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, body);
        var id = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
        Assert.Equal(8, JsonDocument.Parse(body).RootElement.GetProperty("trials").GetInt32());

        var detail = await WaitForSweepAsync(id, TimeSpan.FromMinutes(15), "Succeeded", "Failed", "Cancelled");
        var sweep = detail.GetProperty("sweep");
        Assert.True(sweep.GetProperty("state").GetString() == "Succeeded", detail.ToString());
        var trials = detail.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(8, trials.Count);
        Assert.All(trials, t => Assert.Equal("Succeeded", t.GetProperty("state").GetString()));

        // The weak trials were stopped at the first rung, through the bus: each job's history holds ASHA's stop, and
        // the trainers ended it early.
        foreach (var weak in trials.Where(t => t.GetProperty("values").GetProperty("optimizer.lr").GetDouble() < 1e-5))
        {
            Assert.True(weak.GetProperty("stoppedEarly").GetBoolean(), weak.ToString());
            Assert.StartsWith("ASHA rung 1 (epoch 1)", weak.GetProperty("stopReason").GetString(), StringComparison.Ordinal);
            var job = await fixture.WaitForJobAsync(weak.GetProperty("jobId").GetString()!, "Succeeded");
            var events = job.GetProperty("events").EnumerateArray()
                .Select(e => (Kind: e.GetProperty("kind").GetString(), Payload: JsonDocument.Parse(e.GetProperty("payload").GetString()!).RootElement)).ToList();
            Assert.Contains(events, e => e.Kind == "StopTrainingEarly" && e.Payload.GetProperty("reason").GetString()!.StartsWith("ASHA", StringComparison.Ordinal));
            var completed = events.Single(e => e.Kind == "TrainingCompleted").Payload;
            Assert.True(completed.GetProperty("stoppedEarly").GetBoolean());
            Assert.True(completed.GetProperty("epochs").GetInt32() < 12, completed.ToString());
        }
        Assert.True(sweep.GetProperty("stoppedEarly").GetInt32() >= 6, sweep.ToString());
        Assert.Contains(detail.GetProperty("events").EnumerateArray(), e => e.GetProperty("kind").GetString() == "TrialStopped");

        // The best trial is the one with the best validation accuracy, one that learns; its job holds the sweep's model.
        var best = detail.GetProperty("best");
        var bestValue = trials.Max(t => t.GetProperty("bestValue").GetDouble());
        Assert.Equal(bestValue, best.GetProperty("value").GetDouble());
        Assert.True(best.GetProperty("values").GetProperty("optimizer.lr").GetDouble() >= 0.03, best.ToString());
        Assert.True(bestValue > 0.5, $"best validation accuracy {bestValue}");
        Assert.Equal(best.GetProperty("jobId").GetString(), sweep.GetProperty("bestJobId").GetString());
        Assert.Contains("\"lr\"", best.GetProperty("recipeJson").GetString(), StringComparison.Ordinal);
        var artifacts = await fixture.Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{best.GetProperty("jobId").GetString()}/artifacts", UriKind.Relative));
        Assert.Contains(artifacts.EnumerateArray(), a => a.GetProperty("name").GetString() == "model/best.safetensors");
        // A curve has a point per evaluated epoch: a trial that went through every rung has all 12, a stopped one fewer.
        Assert.Contains(trials, t => t.GetProperty("curve").GetArrayLength() == 12);
        Assert.All(trials.Where(t => t.GetProperty("stoppedEarly").GetBoolean()), t => Assert.InRange(t.GetProperty("curve").GetArrayLength(), 1, 11));
    }

    [Fact]
    public async Task A_sweep_that_cannot_run_is_refused_naming_the_key()
    {
        var dataset = TrainingPipelineTests.WriteSubset(50, 10);
        async Task<string> Refusal(string sweep, string? recipe = null)
        {
            using var response = await fixture.Http.PostAsJsonAsync(new Uri("/api/sweeps", UriKind.Relative),
                new { path = dataset, task = "classify", recipeYaml = recipe, sweepYaml = sweep });
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
            return JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString()!;
        }

        Assert.Contains("key 'space.optimizer.lr': log_uniform needs a low bound above 0",
            await Refusal("trials: 2\nspace:\n  optimizer.lr: {log_uniform: [0, 0.1]}\n"), StringComparison.Ordinal);
        Assert.Contains("key 'recipe': names the file 'base.yaml'",
            await Refusal("trials: 2\nrecipe: base.yaml\nspace:\n  optimizer.lr: [0.1, 0.01]\n"), StringComparison.Ordinal);
        // A value the recipe itself refuses is refused before anything runs, naming the trial and the key.
        var trial = await Refusal("search: grid\nspace:\n  optimizer.lr: [0.1, -1]\n");
        Assert.Contains("trial 2 (optimizer.lr=-1)", trial, StringComparison.Ordinal);
        Assert.Contains("optimizer.lr", trial[trial.IndexOf("cannot run", StringComparison.Ordinal)..], StringComparison.Ordinal);
        using var list = await fixture.Http.GetAsync(new Uri("/api/sweeps/" + Guid.NewGuid(), UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, list.StatusCode);
    }

    private async Task<JsonElement> WaitForSweepAsync(string id, TimeSpan limit, params string[] states)
    {
        var deadline = DateTime.UtcNow + limit;
        JsonElement detail = default;
        while (DateTime.UtcNow < deadline)
        {
            detail = await fixture.Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/sweeps/{id}", UriKind.Relative));
            if (states.Contains(detail.GetProperty("sweep").GetProperty("state").GetString())) return detail;
            await Task.Delay(500);
        }
        Assert.Fail($"sweep {id} did not end: {detail}");
        return detail;
    }
}
