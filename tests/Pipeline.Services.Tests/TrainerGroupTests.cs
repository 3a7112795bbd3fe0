using System.Globalization;
using System.Text.Json;
using Pipeline.Tests.Support;
using Pipeline.Vision.Data;
using Xunit.Abstractions;

namespace Pipeline.Services.Tests;

/// <summary>Two trainer replicas train one job as a data-parallel group, and a group that loses a member re-forms and
/// finishes the job from its last checkpoint.</summary>
[Collection(ServicesCollection.Name)]
public sealed class TrainerGroupTests(ServicesFixture fixture, ITestOutputHelper output)
{
    /// <summary>The bound: a group's test accuracy is within 1 point of one trainer's on a full-size run.</summary>
    private const double Tolerance = 0.01;

    [Fact]
    public async Task Two_trainers_train_one_job_as_a_group_and_match_one_trainer_on_full_fashion_mnist()
    {
        // All 60,000 training images (less the validation share) and the 10,000 test images, two short epochs: enough
        // training that one run differs from another by a fraction of a point. The batch is the global one: two ranks
        // take 64 each, and the group takes the steps one trainer would.
        string[] recipe = ["--epochs=2", "--batch_size=128", "--model.name=small_cnn", "--model.width=8", "--schedule.warmup_epochs=0.2", "--log_every=50"];
        using var watching = new CancellationTokenSource();
        var throughput = WatchThroughputAsync(watching.Token);
        var (code, stdout, stderr) = await fixture.CliAsync(["submit", FashionMnist.DebianPath, "--trainers", "2", "--wait", "--json", .. recipe]);
        Assert.True(code == 0, $"{stderr}\n{stdout}");
        var group = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        await watching.CancelAsync();
        // While the group trained, each replica's /metrics showed its own rank's images per second for the job.
        var seen = await throughput;
        var id = group.GetProperty("job").GetString()!;
        Assert.Equal([0, 1], seen.Where(s => s.Job == id && s.SamplesPerSecond > 0).Select(s => s.Rank).Distinct().Order());
        Assert.Equal(2, seen.Where(s => s.Job == id).Select(s => s.Replica).Distinct().Count());
        (code, stdout, stderr) = await fixture.CliAsync(["submit", FashionMnist.DebianPath, "--trainers", "1", "--wait", "--json", .. recipe]);
        Assert.True(code == 0, $"{stderr}\n{stdout}");
        var single = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        // A job's series end with it on the replica that trained it.
        foreach (var replica in Enumerable.Range(0, 2))
            Assert.Empty(await ThroughputAsync(replica, CancellationToken.None));

        var detail = await fixture.WaitForJobAsync(group.GetProperty("job").GetString()!, "Succeeded");
        var events = detail.GetProperty("events").EnumerateArray().ToList();
        var started = Payloads(events, "TrainingStarted").Single();
        Assert.Equal(2, started.GetProperty("worldSize").GetInt32());
        Assert.Equal(2, started.GetProperty("members").GetArrayLength());
        var ranks = Payloads(events, "TrainingProgress").Select(p => p.GetProperty("rank").GetInt32()).ToHashSet();
        Assert.Equal([0, 1], ranks.Order());

        var a = group.GetProperty("test").GetProperty("accuracy").GetDouble();
        var b = single.GetProperty("test").GetProperty("accuracy").GetDouble();
        output.WriteLine($"test accuracy on 10,000 images: 2 trainers {a:P2}, 1 trainer {b:P2}");
        Assert.True(Math.Abs(a - b) <= Tolerance, $"2 trainers: {a:P2}, 1 trainer: {b:P2}");
    }

    private sealed record Throughput(int Replica, string Job, int Rank, double SamplesPerSecond);

    /// <summary>Every throughput sample both trainer replicas' /metrics showed, polled each second until cancelled.</summary>
    private async Task<List<Throughput>> WatchThroughputAsync(CancellationToken cancellationToken)
    {
        var seen = new List<Throughput>();
        try
        {
            while (true)
            {
                foreach (var replica in Enumerable.Range(0, 2)) seen.AddRange(await ThroughputAsync(replica, cancellationToken));
                await Task.Delay(1000, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            return seen;
        }
    }

    /// <summary>The <c>pipeline_trainer_throughput_per_second</c> samples of one trainer replica's Prometheus text.</summary>
    private async Task<List<Throughput>> ThroughputAsync(int replica, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await fixture.Http.GetStringAsync(new Uri(fixture.App.ReplicaEndpoint("trainer", replica), "/metrics"), cancellationToken);
        }
        catch (HttpRequestException)
        {
            return []; // restarting
        }
        var samples = new List<Throughput>();
        foreach (var line in text.Split('\n').Where(l => l.StartsWith("pipeline_trainer_throughput_per_second{", StringComparison.Ordinal)))
        {
            var labels = line[(line.IndexOf('{', StringComparison.Ordinal) + 1)..line.IndexOf('}', StringComparison.Ordinal)].Split(',')
                .Select(l => l.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1].Trim('"'));
            samples.Add(new Throughput(replica, labels["job"], int.Parse(labels["rank"], CultureInfo.InvariantCulture),
                double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)));
        }
        return samples;
    }

    [Fact]
    public async Task A_group_that_loses_a_trainer_re_forms_and_completes_the_job()
    {
        var dataset = TrainingPipelineTests.WriteSubset(1500, 500);
        var (code, stdout, stderr) = await fixture.CliAsync(["submit", dataset, "--trainers", "2", "--epochs=5", "--batch_size=50", "--model.name=small_cnn", "--model.width=8", "--log_every=5"]);
        Assert.True(code == 0, stderr);
        var id = stdout.Trim();

        // Once the group has stored a checkpoint, the member that does not lead (rank 1) is killed outright.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        JsonElement job = default;
        while (DateTime.UtcNow < deadline)
        {
            job = await fixture.WaitForJobAsync(id, TimeSpan.FromMinutes(5), "Training", "Succeeded", "Failed");
            if (job.GetProperty("events").EnumerateArray().Any(e => e.GetProperty("kind").GetString() == "CheckpointSaved")) break;
            await Task.Delay(250);
        }
        var members = Payloads(job.GetProperty("events").EnumerateArray().ToList(), "TrainingStarted").First().GetProperty("members");
        var rank1Replica = members[1].GetString()!.Split('/')[^1];
        var victim = fixture.App.ServicePid("trainer", int.Parse(rank1Replica, CultureInfo.InvariantCulture));
        using (var kill = System.Diagnostics.Process.Start("kill", ["-9", victim.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();

        var detail = await fixture.WaitForJobAsync(id, TimeSpan.FromMinutes(8), "Succeeded", "Failed");
        Assert.True(detail.GetProperty("job").GetProperty("state").GetString() == "Succeeded", detail.GetProperty("job").ToString());
        var events = detail.GetProperty("events").EnumerateArray().ToList();
        // The events show the loss and the group forming again (the leader alone) from the last checkpoint.
        Assert.Single(Payloads(events, "TrainingGroupLost"));
        var attempts = Payloads(events, "TrainingStarted").ToList();
        Assert.Equal(2, attempts.Count);
        Assert.Equal(1, attempts[1].GetProperty("worldSize").GetInt32());
        Assert.Equal(2, attempts[1].GetProperty("attempt").GetInt32());
        // Training with fewer than asked is said in the event that starts it.
        Assert.Contains("2 trainers were asked for", attempts[1].GetProperty("note").GetString(), StringComparison.Ordinal);
        // The supervisor brought the killed replica back.
        using var healthy = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await fixture.App.Notifications.WaitForResourceHealthyAsync("trainer", healthy.Token);
    }

    private static IEnumerable<JsonElement> Payloads(List<JsonElement> events, string kind) =>
        events.Where(e => e.GetProperty("kind").GetString() == kind).Select(e => JsonDocument.Parse(e.GetProperty("payload").GetString()!).RootElement);
}
