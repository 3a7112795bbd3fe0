using System.Globalization;
using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Training.DistributedWorker;
using Pipeline.Training.Recipes;
using Pipeline.Vision;
using Pipeline.Vision.Data.Synthetic;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>The Trainer over ProcessGroupParallel, each rank a real OS process (Gloo over loopback).</summary>
public sealed class DataParallelTrainerTests : IDisposable
{
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(4);
    private readonly string dir = Directory.CreateTempSubdirectory("ddp-trainer-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static string[] Recipe(params string[] overrides) =>
        ["model.name=small_cnn", "model.width=8", "epochs=2", "device=cpu", "log_every=1", "schedule.warmup_epochs=0.5", .. overrides];

    /// <summary>Starts one worker per rank (same arguments plus rank, world, port) and waits for all to finish.</summary>
    private static WorkerProcess[] RunRanks(int world, string[] arguments, string[] recipe, Func<int, string[]>? perRank = null)
    {
        var ranks = StartRanks(world, arguments, recipe, perRank);
        try
        {
            foreach (var w in ranks) Assert.True(w.WaitForExit(RunLimit), $"worker {w.Id} did not finish; stderr:\n{w.Stderr}");
            for (var r = 0; r < world; r++)
                Assert.True(ranks[r].ExitCode == 0, $"rank {r} exited with {ranks[r].ExitCode}; stderr:\n{ranks[r].Stderr}\nstdout:\n{ranks[r].Stdout}");
            return ranks;
        }
        catch
        {
            foreach (var w in ranks) w.Dispose();
            throw;
        }
    }

    private static WorkerProcess[] StartRanks(int world, string[] arguments, string[] recipe, Func<int, string[]>? perRank = null)
    {
        var port = WorkerProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        return [.. Enumerable.Range(0, world).Select(r => WorkerProcess.Start(
            ["train", "--rank", r.ToString(CultureInfo.InvariantCulture), "--world", world.ToString(CultureInfo.InvariantCulture), "--port", port,
             .. arguments, .. perRank?.Invoke(r) ?? [], "--", .. recipe]))];
    }

    private static Dictionary<string, Tensor> Load(string file) => SafeTensors.Load(file);

    private static double MaxDifference(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b)
    {
        Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
        using var scope = NewDisposeScope();
        return a.Keys.Max(k => (a[k].to(float64) - b[k].to(float64)).abs().max().ToDouble());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Two_ranks_with_half_batches_end_with_the_weights_of_one_rank_with_the_whole_batch(int accumulation)
    {
        // No batch norm or dropout (their per-rank statistics and draws legitimately differ) and no augmentation; the
        // global batch of 64 is 32 per rank; 256 items, 2 epochs: 8 optimizer steps (2 validations) through the Trainer.
        var recipe = Recipe($"model.name={TestModels.PlainMlpName}", "batch_size=64", $"grad_accumulation={accumulation}",
            "augment.crop_padding=0", "augment.horizontal_flip=false", "clip_grad_norm=1.0", "optimizer.name=adamw", "optimizer.lr=0.003");
        var ranks = RunRanks(2, ["--train", "256", "--val", "64"], recipe,
            r => ["--weights", Path.Combine(dir, $"rank{r}.safetensors")]);

        TestModels.Register();
        using var train = FashionSubset.Slice(0, 256);
        using var validation = FashionSubset.Slice(50_000, 64);
        var parsed = RecipeLoader.Load(null, recipe);
        using var single = new Trainer(parsed, train, validation);
        Dictionary<string, Tensor> initial;
        using (var scope = NewDisposeScope())
            initial = single.Model.state_dict().ToDictionary(e => e.Key, e => e.Value.clone().DetachFromDisposeScope(), StringComparer.Ordinal);
        var summary = single.Fit();
        Assert.Equal(8 / accumulation, summary.Steps);
        var reference = single.Model.state_dict();

        var rank0 = Load(Path.Combine(dir, "rank0.safetensors"));
        var rank1 = Load(Path.Combine(dir, "rank1.safetensors"));
        Assert.Equal(0, MaxDifference(rank0, rank1));
        var moved = MaxDifference(initial, reference);
        var difference = MaxDifference(reference, rank0);
        Assert.True(moved > 2e-3, $"training moved no weight by more than {moved}");
        Assert.True(difference < 2e-5, $"2 ranks differ from 1 by up to {difference} (training moved weights by up to {moved})");
        Assert.Equal((8 / accumulation).ToString(CultureInfo.InvariantCulture), ranks[0].Value("steps"));

        // Validation counts are summed over the ranks' halves: both ranks see the same metric, the single process's.
        Assert.Equal(ranks[0].Value("last_accuracy"), ranks[1].Value("last_accuracy"));
        var accuracy = double.Parse(ranks[0].Value("last_accuracy"), CultureInfo.InvariantCulture);
        Assert.Equal(summary.LastValidation!.Accuracy, accuracy, 1.0 / 64);
        foreach (var d in new[] { initial, rank0, rank1 })
            foreach (var t in d.Values) t.Dispose();
        foreach (var w in ranks) w.Dispose();
    }

    [Fact]
    public void Two_detector_ranks_train_from_rank_0s_weights_and_end_identical()
    {
        // A small generated COCO set; flips on (each rank draws its own), the global batch of 8 is 4 per rank. The
        // ranks' BatchNorm statistics differ while they train; the run ends with rank 0's everywhere.
        var coco = Path.Combine(dir, "coco");
        new DetectionSetGenerator().Write(coco, new DetectionSetOptions { Seed = 3, TrainImages = 32, ValImages = 8, Width = 64, Height = 64, MinSide = 16, MaxSide = 32, MaxObjects = 2 });
        string[] recipe = ["input.size=[64, 64]", "batch_size=8", "epochs=1", "device=cpu", "detection.fpn_channels=32", "detection.head_convs=1",
            "augment.horizontal_flip=true", "seed=5"];
        var ranks = RunRanks(2, ["--detect", coco, "--max-steps", "3"], recipe, r => ["--weights", Path.Combine(dir, $"detector{r}.safetensors"), "--initial", Path.Combine(dir, $"initial{r}.safetensors")]);
        Assert.All(ranks, w => Assert.Equal("3", w.Value("steps")));

        var rank0 = Load(Path.Combine(dir, "detector0.safetensors"));
        var rank1 = Load(Path.Combine(dir, "detector1.safetensors"));
        Assert.Equal(0, MaxDifference(rank0, rank1));
        // Training moved the weights, so the equality above means something.
        var initial = Load(Path.Combine(dir, "initial0.safetensors"));
        Assert.True(MaxDifference(initial, rank0) > 1e-4, "three steps moved no weight");
        foreach (var d in new[] { initial, rank0, rank1 })
            foreach (var t in d.Values) t.Dispose();
        foreach (var w in ranks) w.Dispose();
    }

    [Fact]
    public void Two_ranks_stopped_and_resumed_from_rank_0s_checkpoint_end_as_an_uninterrupted_run()
    {
        // small_cnn: batch norm (rank 0's buffers broadcast), dropout and augmentation (each rank its own generator,
        // restored from the checkpoint). 4 steps per epoch: 3 stops mid-epoch, 6 crosses a validation.
        var recipe = Recipe("batch_size=64", "clip_grad_norm=1.0");
        var straight = Path.Combine(dir, "straight");
        var resumed = Path.Combine(dir, "resumed");
        foreach (var w in RunRanks(2, ["--train", "256", "--max-steps", "6", "--out", straight], recipe,
                     r => ["--weights", Path.Combine(dir, $"straight{r}.safetensors")])) w.Dispose();
        foreach (var w in RunRanks(2, ["--train", "256", "--max-steps", "3", "--out", resumed], recipe)) w.Dispose();
        // Only rank 0 wrote: one checkpoint, at step 3.
        Assert.Equal(["step-00000003"], Directory.GetDirectories(Path.Combine(resumed, Trainer.CheckpointFolder)).Select(Path.GetFileName));
        var second = RunRanks(2, ["--train", "256", "--max-steps", "6", "--out", resumed, "--resume", "1"], recipe,
            r => ["--weights", Path.Combine(dir, $"resumed{r}.safetensors")]);
        Assert.All(second, w => Assert.EndsWith("step-00000003", w.Value("resumed"), StringComparison.Ordinal));
        Assert.All(second, w => Assert.Equal("6", w.Value("steps")));

        var s0 = Load(Path.Combine(dir, "straight0.safetensors"));
        var s1 = Load(Path.Combine(dir, "straight1.safetensors"));
        var r0 = Load(Path.Combine(dir, "resumed0.safetensors"));
        var r1 = Load(Path.Combine(dir, "resumed1.safetensors"));
        Assert.Contains(s0.Keys, k => k.EndsWith("running_mean", StringComparison.Ordinal));
        Assert.Equal(0, MaxDifference(s0, s1));
        Assert.Equal(0, MaxDifference(r0, r1));
        Assert.Equal(0, MaxDifference(s0, r0));
        foreach (var d in new[] { s0, s1, r0, r1 })
            foreach (var t in d.Values) t.Dispose();
        foreach (var w in second) w.Dispose();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void Killing_a_rank_mid_training_fails_the_other_within_the_timeout_naming_the_lost_rank(int victim)
    {
        const int timeoutMs = 5000;
        var ranks = StartRanks(2, ["--train", "4096", "--timeout-ms", timeoutMs.ToString(CultureInfo.InvariantCulture)], Recipe("epochs=50", "batch_size=64"));
        try
        {
            var deadline = DateTime.UtcNow + RunLimit;
            while (!ranks[0].HasLine("step=3") && DateTime.UtcNow < deadline && !ranks.Any(w => w.HasExited)) Thread.Sleep(50);
            Assert.True(ranks[0].HasLine("step=3"), $"ranks did not start training; stderr:\n{ranks[0].Stderr}\n{ranks[1].Stderr}");

            ranks[victim].Kill();
            var survivor = ranks[1 - victim];
            Assert.True(survivor.WaitForExit(TimeSpan.FromMilliseconds(timeoutMs + 10_000)),
                $"rank {1 - victim} still running after rank {victim} was killed");
            Assert.Equal(3, survivor.ExitCode);
            Assert.Contains($"rank {victim} is lost", survivor.Stderr, StringComparison.Ordinal);
            Assert.True(ranks[victim].WaitForExit(TimeSpan.FromSeconds(10)));
            foreach (var w in ranks) Assert.False(WorkerProcess.IsAlive(w.Id), $"worker {w.Id} is still alive");
        }
        finally
        {
            foreach (var w in ranks) w.Dispose();
        }
    }
}
