using System.Text.Json;

namespace Pipeline.Services.Tests;

/// <summary>The evaluator applies the recipe's early-stopping rule to its validation reports and tells the trainers to stop.</summary>
[Collection(ServicesCollection.Name)]
public sealed class EarlyStopTests(ServicesFixture fixture)
{
    [Fact]
    public async Task The_evaluator_stops_a_job_whose_validation_metric_stops_improving()
    {
        var dataset = TrainingPipelineTests.WriteSubset(3000, 500);
        // No epoch can beat the first by a whole point of accuracy: the second evaluated epoch exhausts a patience of 1.
        var (code, stdout, stderr) = await fixture.CliAsync(["submit", dataset, "--wait", "--json", "--epochs=40", "--batch_size=50", "--model.name=small_cnn", "--model.width=8",
            "--early_stopping.patience=1", "--early_stopping.min_delta=1"]);
        Assert.True(code == 0, $"{stderr}\n{stdout}");
        var summary = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal("Succeeded", summary.GetProperty("state").GetString());
        Assert.Equal(1, summary.GetProperty("best_epoch").GetInt32()); // numbered from 1
        Assert.True(summary.GetProperty("test").GetProperty("accuracy").GetDouble() > 0.2);

        var detail = await fixture.WaitForJobAsync(summary.GetProperty("job").GetString()!, "Succeeded");
        var events = detail.GetProperty("events").EnumerateArray()
            .Select(e => (Kind: e.GetProperty("kind").GetString(), Payload: JsonDocument.Parse(e.GetProperty("payload").GetString()!).RootElement)).ToList();
        var stop = events.First(e => e.Kind == "StopTrainingEarly").Payload;
        Assert.Equal(1, stop.GetProperty("bestEpoch").GetInt32());
        Assert.Contains("patience 1", stop.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var completed = events.Single(e => e.Kind == "TrainingCompleted").Payload;
        Assert.True(completed.GetProperty("stoppedEarly").GetBoolean());
        // The trainers heard it a few epochs after the evaluator's decision (it evaluates while they train on), well
        // before the 40 asked for.
        Assert.InRange(completed.GetProperty("epochs").GetInt32(), 2, 30);
    }
}
