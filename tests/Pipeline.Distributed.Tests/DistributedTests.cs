using System.Diagnostics;
using System.Globalization;

namespace Pipeline.Distributed.Tests;

/// <summary>Ranks as separate OS processes (the worker project), meeting through rank 0's TCP store.</summary>
public sealed class DistributedTests : IDisposable
{
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(3);
    private readonly List<WorkerProcess> workers = [];
    private readonly string folder = Directory.CreateTempSubdirectory("pipeline-distributed-").FullName;

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
            var rank = r.ToString(CultureInfo.InvariantCulture);
            string[] args = [mode, "--rank", rank, "--world", world.ToString(CultureInfo.InvariantCulture), "--port", port, .. extra];
            ranks[r] = WorkerProcess.Start([.. args.Select(a => a.Replace("{rank}", rank, StringComparison.Ordinal))]);
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
        var added = new List<long>();
        for (var r = 0; r < 2; r++)
        {
            var w = ranks[r];
            Assert.Equal($"{r}/2", w.Value("rank"));
            Assert.Contains("libgloo.so", w.Value("gloo_library"), StringComparison.Ordinal);
            foreach (var dtype in new[] { "Float32", "Float64", "BFloat16" })
            {
                // rank r contributes [r+1, 10(r+1), r-5]
                Assert.Equal("3,30,-9", w.Value($"all_reduce_SUM_{dtype}"));
                Assert.Equal("1.5,15,-4.5", w.Value($"all_reduce_AVG_{dtype}"));
                Assert.Equal("2,20,-4", w.Value($"all_reduce_MAX_{dtype}"));
                Assert.Equal("1,10,-5", w.Value($"all_reduce_MIN_{dtype}"));
            }
            Assert.Equal("3,1152921504606846978", w.Value("all_reduce_int64"));
            Assert.Equal("all_reduce AVG needs a floating-point dtype, got int64", w.Value("avg_int64"));
            // Row 2 of a 4x3 tensor, broadcast from rank 1 (whose values are 100): only that row changes on rank 0.
            Assert.Equal(r == 0 ? "0,0,0,0,0,0,100,100,100,0,0,0" : "100,100,100,100,100,100,100,100,100,100,100,100", w.Value("broadcast_view"));
            Assert.Equal("2999997", w.Value("all_reduce_large"));
            Assert.Equal("ok", w.Value("barrier"));
            Assert.Equal($"from {1 - r}", w.Value("store"));
            added.Add(long.Parse(w.Value("store_add"), CultureInfo.InvariantCulture));
        }
        Assert.Equal(3, added.Max()); // 1 + 2, whichever rank came first
    }

    // 25 MB: one bucket for the model's 6 parameters; 16 bytes: one bucket each (every parameter is larger).
    [Theory]
    [InlineData(25 * 1024 * 1024, 1)]
    [InlineData(16, 6)]
    public void Two_ranks_with_half_batches_match_one_rank_with_the_full_batch_and_start_from_rank_0_s_weights(int bucketBytes, int expectedBuckets)
    {
        const string steps = "5", batch = "16";
        var single = StartRanks(1, "train", "--steps", steps, "--global-batch", batch, "--out", Path.Combine(folder, "single"));
        AssertSucceeded(single[0]);
        var pair = StartRanks(2, "train", "--steps", steps, "--global-batch", batch, "--bucket-bytes", bucketBytes.ToString(CultureInfo.InvariantCulture),
            "--out", Path.Combine(folder, "rank{rank}"));
        foreach (var w in pair) AssertSucceeded(w);
        Assert.Equal(expectedBuckets.ToString(CultureInfo.InvariantCulture), pair[0].Value("buckets"));

        // (c) The ranks built different weights and buffers; the broadcast made them rank 0's, bit for bit.
        Assert.NotEqual(pair[0].Value("before_sum"), pair[1].Value("before_sum"));
        var init0 = File.ReadAllBytes(Path.Combine(folder, "rank0.init"));
        Assert.Equal(init0, File.ReadAllBytes(Path.Combine(folder, "rank1.init")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "single.init")), init0);

        // (a) The averaged half-batch gradients are the full batch's, and so are the weights after the steps.
        var gradients = Doubles("single.grad");
        var weights = Doubles("single");
        Assert.True(gradients.Any(g => Math.Abs(g) > 1e-3), "the gradients are not all ~0");
        foreach (var rank in new[] { "rank0", "rank1" })
        {
            AssertClose(gradients, Doubles(rank + ".grad"), 1e-10, rank + " gradients");
            AssertClose(weights, Doubles(rank), 1e-10, rank + " weights");
        }
        Assert.NotEqual(init0, File.ReadAllBytes(Path.Combine(folder, "rank0"))); // it did train
    }

    // (b) A rank killed mid-training: the other's next collective fails within the timeout, naming it. Rank 0 is
    // also the store's host: then the survivor names rank 0 because the store itself is gone.
    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void Killing_a_rank_makes_the_other_fail_within_the_timeout_naming_the_lost_rank(int victim)
    {
        const int timeoutMs = 10_000;
        var ranks = StartRanks(2, "hold", "--timeout-ms", timeoutMs.ToString(CultureInfo.InvariantCulture));
        var wait = Stopwatch.StartNew();
        while (!ranks.All(w => w.HasLine("ready")))
        {
            Assert.True(wait.Elapsed < RunLimit && !ranks.Any(w => w.HasExited), $"the ranks did not get ready; stdout:\n{ranks[0].Stdout}\n--\n{ranks[1].Stdout}\nstderr:\n{ranks[0].Stderr}\n--\n{ranks[1].Stderr}");
            Thread.Sleep(50);
        }
        Thread.Sleep(300); // a few collectives in
        var survivor = ranks[1 - victim];
        var clock = Stopwatch.StartNew();
        ranks[victim].Kill();

        Assert.True(survivor.WaitForExit(TimeSpan.FromMilliseconds(timeoutMs + 5_000)), $"rank {1 - victim} did not fail within the timeout; stdout:\n{survivor.Stdout}");
        var elapsed = clock.Elapsed;
        Assert.Equal(3, survivor.ExitCode);
        var error = survivor.Value("error");
        Assert.Contains($"failed on rank {1 - victim} of 2", error, StringComparison.Ordinal);
        Assert.Contains($"rank {victim} is lost", error, StringComparison.Ordinal);
        Assert.Equal(victim.ToString(CultureInfo.InvariantCulture), survivor.Value("lost"));
        Assert.True(elapsed < TimeSpan.FromMilliseconds(timeoutMs), $"took {elapsed.TotalMilliseconds:F0} ms: {error}");
        Console.WriteLine($"victim {victim}: the survivor failed {elapsed.TotalMilliseconds:F0} ms after the kill: {error}");
    }

    // A rank that hangs (SIGSTOP: its sockets stay open, so only the timeout can tell): the other fails after the
    // timeout plus the lost-rank diagnosis (at most 1.5 s), naming it; rank 0's hung store is bounded the same way.
    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void A_rank_that_hangs_makes_the_other_fail_after_the_timeout_naming_it(int victim)
    {
        const int timeoutMs = 3_000;
        var ranks = StartRanks(2, "hold", "--timeout-ms", timeoutMs.ToString(CultureInfo.InvariantCulture));
        var wait = Stopwatch.StartNew();
        while (!ranks.All(w => w.HasLine("ready")))
        {
            Assert.True(wait.Elapsed < RunLimit && !ranks.Any(w => w.HasExited), $"the ranks did not get ready; stdout:\n{ranks[0].Stdout}\n--\n{ranks[1].Stdout}");
            Thread.Sleep(50);
        }
        var survivor = ranks[1 - victim];
        using (var stop = Process.Start("kill", ["-STOP", ranks[victim].Id.ToString(CultureInfo.InvariantCulture)])) stop.WaitForExit();
        var clock = Stopwatch.StartNew();

        Assert.True(survivor.WaitForExit(TimeSpan.FromMilliseconds(timeoutMs + 6_000)), $"rank {1 - victim} did not fail; stdout:\n{survivor.Stdout}");
        var elapsed = clock.Elapsed;
        Assert.Equal(3, survivor.ExitCode);
        var error = survivor.Value("error");
        Assert.Contains($"rank {victim} is lost", error, StringComparison.Ordinal);
        Assert.Equal(victim.ToString(CultureInfo.InvariantCulture), survivor.Value("lost"));
        Assert.True(elapsed < TimeSpan.FromMilliseconds(timeoutMs + 1_500 + 3_000), $"took {elapsed.TotalMilliseconds:F0} ms: {error}");
        Console.WriteLine($"hung victim {victim}: the survivor failed {elapsed.TotalMilliseconds:F0} ms after the stop: {error}");
    }

    private double[] Doubles(string name)
    {
        var bytes = File.ReadAllBytes(Path.Combine(folder, name));
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(bytes).ToArray();
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= tolerance, $"{what}: max abs diff {worst:E2} > {tolerance:E0}");
        Console.WriteLine($"{what}: max abs diff {worst:E2} over {expected.Length} values");
    }
}
