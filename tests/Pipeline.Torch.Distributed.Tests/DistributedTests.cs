using System.Globalization;
using Pipeline.Torch.Serialization;

namespace Pipeline.Torch.Distributed.Tests;

public sealed class DistributedTests : IDisposable
{
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(3);
    private readonly List<WorkerProcess> workers = [];
    private readonly string folder = Directory.CreateTempSubdirectory("pipeline-ddp-").FullName;

    public void Dispose()
    {
        foreach (var w in workers) w.Dispose();
        Directory.Delete(folder, recursive: true);
    }

    private WorkerProcess[] StartRanks(int world, string mode, params string[] extra)
    {
        var port = WorkerProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        var ranks = new WorkerProcess[world];
        for (var r = 0; r < world; r++)
        {
            string[] args = [mode, "--rank", r.ToString(CultureInfo.InvariantCulture), "--world", world.ToString(CultureInfo.InvariantCulture), "--port", port, .. extra];
            ranks[r] = WorkerProcess.Start([.. args.Select(a => a.Replace("{rank}", r.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal))]);
            workers.Add(ranks[r]);
        }
        return ranks;
    }

    private static void AssertSucceeded(WorkerProcess w)
    {
        Assert.True(w.WaitForExit(RunLimit), $"worker {w.Id} did not finish; stdout:\n{w.Stdout}\nstderr:\n{w.Stderr}");
        Assert.True(w.ExitCode == 0, $"worker {w.Id} exited with {w.ExitCode}; stdout:\n{w.Stdout}\nstderr:\n{w.Stderr}");
    }

    [Fact]
    public void Collectives_across_two_processes_give_the_reduced_values_on_every_rank()
    {
        var ranks = StartRanks(2, "collectives");
        foreach (var w in ranks) AssertSucceeded(w);
        for (var r = 0; r < 2; r++)
        {
            var w = ranks[r];
            Assert.Equal($"{r}/2", w.Value("rank"));
            // rank r contributes [r+1, 10(r+1), r-5]
            Assert.Equal("3,30,-9", w.Value("all_reduce_SUM"));
            Assert.Equal("1.5,15,-4.5", w.Value("all_reduce_AVG"));
            Assert.Equal("2,20,-4", w.Value("all_reduce_MAX"));
            Assert.Equal("1,10,-5", w.Value("all_reduce_MIN"));
            Assert.Equal("3,10", w.Value("all_reduce_int64"));
            Assert.Equal("107,107,107,107", w.Value("broadcast_from_last"));
            Assert.Equal("0,0,1;1,1,1", w.Value("all_gather"));
            Assert.Equal("3000;2,2,2", w.Value("async"));
            Assert.Equal("2,2,3;11,1152921504606846977;1.25;1,2,3,4,5,6", w.Value("broadcast_coalesced"));
            Assert.Equal("ok", w.Value("barrier"));
            Assert.Equal("1", w.Value("metric_mean"));
            Assert.Equal("3", w.Value("metric_max"));
            Assert.Equal($"from {1 - r}", w.Value("store"));
        }
    }

    // 25 MB: one bucket. 2 KB: many buckets, launched in order as backward fills them (or all after backward).
    [Theory]
    // accumulate 2: each rank's half batch in two micro-batches, the first under no_sync().
    [InlineData(1, 25 * 1024, 1)]
    [InlineData(1, 2, 1)]
    [InlineData(0, 2, 1)]
    [InlineData(1, 2, 2)]
    public void Two_ranks_with_half_batches_end_with_the_weights_of_one_rank_with_the_full_batch(int overlap, int bucketKb, int accumulate)
    {
        const string steps = "6", batch = "16";
        var single = StartRanks(1, "train", "--steps", steps, "--global-batch", batch, "--out", Path.Combine(folder, "single.safetensors"));
        AssertSucceeded(single[0]);
        var pair = StartRanks(2, "train", "--steps", steps, "--global-batch", batch, "--overlap", overlap.ToString(CultureInfo.InvariantCulture),
            "--bucket-kb", bucketKb.ToString(CultureInfo.InvariantCulture), "--accumulate", accumulate.ToString(CultureInfo.InvariantCulture), "--out", Path.Combine(folder, "ddp{rank}.safetensors"));
        foreach (var w in pair) AssertSucceeded(w);
        var buckets = int.Parse(pair[0].Value("buckets"), CultureInfo.InvariantCulture);
        if (bucketKb > 1024) Assert.Equal(1, buckets);
        else Assert.True(buckets > 4, $"{buckets} buckets");

        var reference = SafeTensors.Load(Path.Combine(folder, "single.safetensors"));
        for (var r = 0; r < 2; r++)
        {
            var state = SafeTensors.Load(Path.Combine(folder, $"ddp{r}.safetensors"));
            Assert.Equal(reference.Keys.Order(), state.Keys.Order());
            foreach (var (key, expected) in reference)
            {
                using var actual = state[key];
                Assert.Equal(expected.dtype, actual.dtype);
                using var e64 = expected.to(torch.float64);
                using var a64 = actual.to(torch.float64);
                var e = e64.reshape(-1).ToArray<double>();
                var a = a64.reshape(-1).ToArray<double>();
                Assert.Equal(e.Length, a.Length);
                for (var k = 0; k < e.Length; k++)
                    Assert.True(Math.Abs(e[k] - a[k]) <= 1e-10 + 1e-9 * Math.Abs(e[k]), $"rank {r} {key}[{k}]: {a[k]} vs single-process {e[k]}");
            }
        }
        // Training moved the weights: the comparison is not between two untouched initialisations.
        Assert.NotEqual(single[0].Value("step 0 loss"), single[0].Value("step 5 loss"));
        var singleLoss = double.Parse(single[0].Value("step 5 loss"), CultureInfo.InvariantCulture);
        var pairLoss = double.Parse(pair[1].Value("step 5 loss"), CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(singleLoss - pairLoss) <= 1e-10, $"mean loss across ranks {pairLoss} vs single-process {singleLoss}");
        foreach (var t in reference.Values) t.Dispose();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void Killing_a_rank_mid_training_makes_the_other_fail_naming_it_within_the_timeout(int victim)
    {
        const int timeoutMs = 8000;
        var ranks = StartRanks(2, "train", "--steps", "1000000", "--global-batch", "64", "--timeout-ms", timeoutMs.ToString(CultureInfo.InvariantCulture));
        var deadline = DateTime.UtcNow + RunLimit;
        while (!ranks.All(w => w.HasLine("step 3 ")) && DateTime.UtcNow < deadline && !ranks.Any(w => w.HasExited)) Thread.Sleep(50);
        Assert.True(ranks.All(w => w.HasLine("step 3 ")), $"ranks did not start training; stderr:\n{ranks[0].Stderr}\n{ranks[1].Stderr}");

        ranks[victim].Kill();
        var survivor = ranks[1 - victim];
        // The group's timeout bounds the failure; the margin covers process exit.
        Assert.True(survivor.WaitForExit(TimeSpan.FromMilliseconds(timeoutMs + 5000)),
            $"rank {1 - victim} still running after rank {victim} was killed; stdout tail:\n{string.Join("\n", survivor.Stdout.Split('\n').TakeLast(3))}");
        Assert.Equal(3, survivor.ExitCode);
        Assert.Contains($"rank {victim} is lost", survivor.Stderr, StringComparison.Ordinal);
        Assert.Contains($"failed on rank {1 - victim} of 2", survivor.Stderr, StringComparison.Ordinal);

        Assert.True(ranks[victim].WaitForExit(TimeSpan.FromSeconds(10)));
        foreach (var w in ranks) Assert.False(WorkerProcess.IsAlive(w.Id), $"worker {w.Id} is still alive");
    }

    [Fact]
    public void A_collective_that_a_live_peer_never_joins_fails_within_the_timeout()
    {
        const int timeoutMs = 3000;
        var ranks = StartRanks(2, "stall", "--timeout-ms", timeoutMs.ToString(CultureInfo.InvariantCulture));
        var deadline = DateTime.UtcNow + RunLimit;
        while (!ranks[0].HasLine("joined=") && !ranks[0].HasExited && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.True(ranks[0].HasLine("joined="), $"rank 0 did not join; stderr:\n{ranks[0].Stderr}");
        Assert.True(ranks[0].WaitForExit(TimeSpan.FromMilliseconds(timeoutMs + 6000)), "rank 0 hung in all_reduce past the timeout");
        Assert.Equal(3, ranks[0].ExitCode);
        Assert.False(ranks[0].HasLine("all_reduce="));
        Assert.Contains("all_reduce failed on rank 0 of 2: every peer still has a heartbeat", ranks[0].Stderr, StringComparison.Ordinal);
        Assert.Contains("Timed out", ranks[0].Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Rendezvous_without_the_other_ranks_fails_within_the_timeout()
    {
        var ranks = StartRanks(1, "collectives", "--world", "2", "--timeout-ms", "2000");
        Assert.True(ranks[0].WaitForExit(TimeSpan.FromSeconds(30)), "rank 0 waited for a missing rank past the timeout");
        Assert.Equal(3, ranks[0].ExitCode);
        Assert.Contains("rendezvous failed on rank 0 of 2 (timeout 2000 ms", ranks[0].Stderr, StringComparison.Ordinal);
    }
}
