using System.Globalization;
using System.Text.Json;
using Pipeline.Tests.Support;

namespace Pipeline.Services.Tests;

/// <summary>The broker restarts in the middle of a job: no message is lost, the job resumes (never restarts) and completes.</summary>
[Collection(ServicesCollection.Name)]
public sealed class BrokerRestartTests(ServicesFixture fixture)
{
    [Fact]
    public async Task Restarting_rabbitmq_mid_job_loses_no_message_and_the_job_resumes_and_completes_once()
    {
        var dataset = TrainingPipelineTests.WriteSubset(1500, 500);
        var (code, stdout, stderr) = await fixture.CliAsync(["submit", dataset, "--epochs=6", "--batch_size=50", "--model.name=small_cnn", "--model.width=8", "--log_every=5"]);
        Assert.True(code == 0, stderr);
        var id = stdout.Trim();

        // Once training has stored its first checkpoint, the broker is stopped (SIGTERM) and the supervisor starts it again.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (DateTime.UtcNow < deadline)
        {
            var job = await fixture.WaitForJobAsync(id, "Training", "Succeeded", "Failed");
            Assert.Equal("Training", job.GetProperty("job").GetProperty("state").GetString());
            if (job.GetProperty("events").EnumerateArray().Any(e => e.GetProperty("kind").GetString() == "CheckpointSaved")) break;
            await Task.Delay(200);
        }
        var before = fixture.App.ServicePid("rabbitmq");
        using (var stop = System.Diagnostics.Process.Start("kill", ["-TERM", before.ToString(CultureInfo.InvariantCulture)]))
            await stop.WaitForExitAsync();
        using (var back = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            while (PipelineApp.LauncherPid(fixture.App.Replica("rabbitmq", 0)) is not { } pid || pid == before)
                await Task.Delay(200, back.Token);
            await fixture.App.Notifications.WaitForResourceHealthyAsync("rabbitmq", back.Token);
        }

        var detail = await fixture.WaitForJobAsync(id, TimeSpan.FromMinutes(5), "Succeeded", "Failed");
        Assert.True(detail.GetProperty("job").GetProperty("state").GetString() == "Succeeded", detail.GetProperty("job").ToString());
        var events = detail.GetProperty("events").EnumerateArray().ToList();
        var kinds = events.Select(e => e.GetProperty("kind").GetString()).ToList();
        // The broker took the unacknowledged job back when it went away and handed it out again: training resumed from the
        // last stored checkpoint, never from the start, and the job was trained and evaluated once.
        var starts = events.Where(e => e.GetProperty("kind").GetString() == "TrainingStarted")
            .Select(e => JsonDocument.Parse(e.GetProperty("payload").GetString()!).RootElement.GetProperty("resumedFromStep").GetInt64()).ToList();
        Assert.Equal(0, starts[0]);
        Assert.All(starts.Skip(1), step => Assert.True(step > 0, $"a redelivered job started again from step {step}"));
        Assert.InRange(starts.Count, 1, 2);
        // Each start is the next attempt, and the steps repeated after resuming are not recorded twice.
        var attempts = events.Where(e => e.GetProperty("kind").GetString() == "TrainingStarted")
            .Select(e => JsonDocument.Parse(e.GetProperty("payload").GetString()!).RootElement.GetProperty("attempt").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(1, attempts.Count), attempts);
        var steps = events.Where(e => e.GetProperty("kind").GetString() == "TrainingProgress")
            .Select(e => JsonDocument.Parse(e.GetProperty("payload").GetString()!).RootElement)
            .Select(p => (Rank: p.GetProperty("rank").GetInt32(), Step: p.GetProperty("step").GetInt64())).ToList();
        Assert.Equal(steps.Count, steps.Distinct().Count());
        Assert.Equal(1, kinds.Count(k => k == "TrainingCompleted"));
        Assert.Single(events, e => e.GetProperty("kind").GetString() == "EvaluationCompleted"
            && JsonDocument.Parse(e.GetProperty("payload").GetString()!).RootElement.GetProperty("split").GetString() == "test");
        // Every epoch's validation accuracy reached the registry.
        var epochs = detail.GetProperty("metrics").EnumerateArray()
            .Where(m => m.GetProperty("name").GetString() == "accuracy" && m.GetProperty("split").GetString() == "val")
            .Select(m => m.GetProperty("epoch").GetInt32()).Distinct().Count();
        Assert.Equal(6, epochs);
        Assert.Contains(detail.GetProperty("metrics").EnumerateArray(), m => m.GetProperty("split").GetString() == "test");
    }
}
