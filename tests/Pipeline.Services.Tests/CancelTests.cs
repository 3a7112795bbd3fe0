using Pipeline.Storage;

namespace Pipeline.Services.Tests;

/// <summary>A cancelled job is over: its trainer stores no closing checkpoint and the evaluator evaluates nothing of it.</summary>
[Collection(ServicesCollection.Name)]
public sealed class CancelTests(ServicesFixture fixture)
{
    [Fact]
    public async Task A_job_cancelled_while_training_stores_no_checkpoint_and_is_not_evaluated()
    {
        // 135 steps an epoch: cancelled at its first progress, long before the first epoch's checkpoint.
        var dataset = TrainingPipelineTests.WriteSubset(1500, 100);
        var (code, stdout, stderr) = await fixture.CliAsync(["submit", dataset, "--epochs=20", "--batch_size=10", "--model.name=small_cnn", "--model.width=8"]);
        Assert.True(code == 0, stderr);
        var id = stdout.Trim();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (true)
        {
            var job = await fixture.WaitForJobAsync(id, "Training", "Succeeded", "Failed");
            Assert.Equal("Training", job.GetProperty("job").GetProperty("state").GetString());
            if (job.GetProperty("events").EnumerateArray().Any(e => e.GetProperty("kind").GetString() == "TrainingProgress")) break;
            Assert.True(DateTime.UtcNow < deadline, "training showed no progress");
            await Task.Delay(200);
        }
        (code, _, stderr) = await fixture.CliAsync("cancel", id);
        Assert.True(code == 0, stderr);
        await fixture.WaitForJobAsync(id, "Cancelled");

        // The trainer stops at its next step; give it and the evaluator time to do what they would have done.
        await Task.Delay(TimeSpan.FromSeconds(15));
        var detail = await fixture.WaitForJobAsync(id, "Cancelled");
        var kinds = detail.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
        Assert.DoesNotContain("CheckpointSaved", kinds);
        Assert.DoesNotContain("EvaluationCompleted", kinds);
        using var store = new AzureBlobStore(fixture.App.GetConnectionString("blobs"));
        var checkpoints = new List<string>();
        await foreach (var blob in store.ListAsync("jobs", $"{Guid.Parse(id):N}/checkpoints/")) checkpoints.Add(blob.Name);
        Assert.Empty(checkpoints);
        Assert.Equal("Cancelled", detail.GetProperty("job").GetProperty("state").GetString());
    }
}
