using TorchSharp;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

public sealed class TrainerTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("trainer-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // A small model and few items keep each run to seconds on two cores.
    private static Recipe Tiny(params string[] overrides) => RecipeLoader.Load(null,
        ["model.name=small_cnn", "model.width=8", "batch_size=32", "epochs=2", "device=cpu", "log_every=1", "schedule.warmup_epochs=0.5", .. overrides]);

    [Fact]
    public void The_loop_learns_fashion_mnist_from_a_thousand_images()
    {
        using var train = FashionSubset.Slice(0, 1000);
        using var validation = FashionSubset.Slice(50_000, 500);
        var recipe = Tiny("epochs=2", "augment.crop_padding=0", "augment.horizontal_flip=false", "log_every=50");
        var epochs = new List<EpochResult>();
        using var trainer = new Trainer(recipe, train, validation, new TrainerOptions { Sinks = [new CallbackSink(onEpoch: epochs.Add)] });
        var summary = trainer.Fit();
        Assert.Equal(StopReason.Completed, summary.Reason);
        Assert.Equal(2, epochs.Count);
        // Chance is 10%; two epochs over 1,000 images (width 8, seed 0) reach 52% on held-out images here: floor 45%.
        Assert.True(summary.BestMetric > 0.45, $"validation accuracy {summary.BestMetric}");
        Assert.True(epochs[^1].TrainLoss < epochs[0].TrainLoss, "training loss did not fall");
        Assert.Equal(summary.BestMetric, trainer.Evaluate(validation).Accuracy);
    }

    [Fact]
    public void Progress_comes_at_the_first_step_and_at_each_epoch_end_even_below_log_every()
    {
        // 8 steps per epoch, far below log_every: a small job used to show nothing until its very last step.
        using var train = FashionSubset.Slice(0, 256);
        using var validation = FashionSubset.Slice(1000, 64);
        var steps = new List<(int Epoch, long Step)>();
        using var trainer = new Trainer(Tiny("epochs=2", "log_every=50"), train, validation,
            new TrainerOptions { Sinks = [new CallbackSink(onStep: p => steps.Add((p.Epoch, p.Step)))] });
        trainer.Fit();
        Assert.Equal((0, 1L), steps[0]);
        Assert.Contains((0, 8L), steps);
        Assert.Equal((1, 16L), steps[^1]);
        Assert.Equal(steps.Count, steps.Select(s => s.Step).Distinct().Count());
    }

    [Fact]
    public void Stopping_after_n_steps_and_resuming_for_m_gives_the_weights_of_n_plus_m_straight_through()
    {
        using var train = FashionSubset.Slice(0, 256);
        using var validation = FashionSubset.Slice(1000, 64);
        // 8 batches per epoch: 5 steps stop mid-epoch; 5 + 7 crosses an epoch end (validation, scheduler) into the next.
        var recipe = Tiny("grad_accumulation=1", "early_stopping.patience=null", "clip_grad_norm=1.0");
        var straightDir = Path.Combine(dir, "straight");
        var resumedDir = Path.Combine(dir, "resumed");

        using var straight = new Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = straightDir, MaxSteps = 12 });
        Assert.Equal(StopReason.StepLimit, straight.Fit().Reason);

        using (var first = new Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = resumedDir, MaxSteps = 5 }))
            Assert.Equal(StopReason.StepLimit, first.Fit().Reason);
        var checkpoint = new CheckpointStore(Path.Combine(resumedDir, Trainer.CheckpointFolder)).Latest()!;
        Assert.EndsWith("step-00000005", checkpoint, StringComparison.Ordinal);
        Assert.Equal(5, TrainingState.FromJson(File.ReadAllText(Path.Combine(checkpoint, CheckpointStore.StateFile))).BatchInEpoch);

        // A fresh trainer draws different random numbers on construction; the checkpoint must replace all of that.
        manual_seed(12345);
        using var second = new Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = resumedDir, MaxSteps = 12 });
        second.Resume(checkpoint);
        Assert.Equal(StopReason.StepLimit, second.Fit().Reason);

        Assert.Equal(12, second.State.Step);
        Assert.Equal(straight.Scheduler.StepCount, second.Scheduler.StepCount);
        AssertBitIdentical(straight.Model.state_dict(), second.Model.state_dict());
        // The optimizers' whole state (momentum buffers, steps, group options) serialises to the same bytes.
        Assert.Equal(OptimizerBytes(straight.Optimizer), OptimizerBytes(second.Optimizer));
    }

    [Fact]
    public void Gradient_accumulation_over_two_micro_batches_resumes_exactly_too()
    {
        using var train = FashionSubset.Slice(0, 256);
        using var validation = FashionSubset.Slice(1000, 64);
        var recipe = Tiny("grad_accumulation=2", "batch_size=16", "optimizer.name=adamw", "optimizer.lr=0.001");
        using var straight = new Trainer(recipe, train, validation, new TrainerOptions { MaxSteps = 6 });
        straight.Fit();
        var resumedDir = Path.Combine(dir, "resumed");
        using (var first = new Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = resumedDir, MaxSteps = 3 }))
            first.Fit();
        using var second = new Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = resumedDir, MaxSteps = 6 });
        second.Resume(new CheckpointStore(Path.Combine(resumedDir, Trainer.CheckpointFolder)).Latest()!);
        second.Fit();
        Assert.Equal(6, second.State.Step);
        AssertBitIdentical(straight.Model.state_dict(), second.Model.state_dict());
    }

    [Fact]
    public void A_checkpoint_of_the_engine_before_TorchSharp_is_refused_by_name_and_the_trainer_is_untouched()
    {
        using var train = FashionSubset.Slice(0, 64);
        using var validation = FashionSubset.Slice(1000, 32);
        var recipe = Tiny("epochs=1");
        var output = Path.Combine(dir, "legacy");
        using (var first = new Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = output, MaxSteps = 2 }))
            first.Fit();
        var checkpoint = new CheckpointStore(Path.Combine(output, Trainer.CheckpointFolder)).Latest()!;
        // What the old engine wrote: the optimizer's state as safetensors.
        File.Move(Path.Combine(checkpoint, CheckpointStore.OptimizerFile), Path.Combine(checkpoint, "optimizer.safetensors"));

        using var second = new Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = Path.Combine(dir, "legacy-2") });
        var before = second.Model.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
        var error = Assert.Throws<InvalidDataException>(() => second.Resume(checkpoint));
        Assert.Contains(checkpoint, error.Message, StringComparison.Ordinal);
        Assert.Contains("optimizer.safetensors", error.Message, StringComparison.Ordinal);
        AssertBitIdentical(before, second.Model.state_dict());
    }

    [Fact]
    public void Early_stopping_ends_the_run_after_patience_epochs_without_improvement_and_keeps_the_best()
    {
        using var train = FashionSubset.Slice(0, 128);
        using var validation = FashionSubset.Slice(1000, 64);
        // No epoch can beat the first by a whole accuracy point of 1.0: the run stops after 1 + patience epochs.
        var recipe = Tiny("epochs=10", "early_stopping.patience=2", "early_stopping.min_delta=1.0");
        var output = Path.Combine(dir, "run");
        using var trainer = new Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = output });
        var summary = trainer.Fit();
        Assert.Equal(StopReason.EarlyStopped, summary.Reason);
        Assert.Equal(3, summary.Epochs);
        Assert.Equal(0, summary.BestEpoch);
        Assert.True(File.Exists(Path.Combine(output, Trainer.BestModelFile)));
        Assert.True(trainer.RestoreBestWeights());
        // A finished run resumed from its last checkpoint does not train again.
        using var again = new Trainer(recipe, train, validation, new TrainerOptions { OutputDirectory = output });
        again.Resume(new CheckpointStore(Path.Combine(output, Trainer.CheckpointFolder)).Latest()!);
        Assert.Equal(3, again.Fit().Epochs);
    }

    [Fact]
    public void Cancellation_stops_between_steps_and_leaves_a_resumable_checkpoint()
    {
        using var train = FashionSubset.Slice(0, 256);
        using var validation = FashionSubset.Slice(1000, 64);
        using var cts = new CancellationTokenSource();
        var output = Path.Combine(dir, "run");
        var steps = new List<StepProgress>();
        var sink = new CallbackSink(onStep: p =>
        {
            steps.Add(p);
            if (p.Step == 3) cts.Cancel();
        });
        using var trainer = new Trainer(Tiny(), train, validation, new TrainerOptions { OutputDirectory = output, Sinks = [sink] });
        var summary = trainer.Fit(cts.Token);
        Assert.Equal(StopReason.Cancelled, summary.Reason);
        Assert.Equal(3, summary.Steps);
        Assert.Equal([1L, 2, 3], steps.Select(s => s.Step));
        Assert.All(steps, s => Assert.True(s.Lr > 0 && s.SamplesPerSecond > 0 && double.IsFinite(s.Loss)));
        var checkpoints = new CheckpointStore(Path.Combine(output, Trainer.CheckpointFolder));
        Assert.EndsWith("step-00000003", checkpoints.Latest(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetDirectories(Path.Combine(output, Trainer.CheckpointFolder), ".tmp-*"));
    }

    [Fact]
    public void Results_csv_gets_one_row_per_epoch_and_only_the_newest_checkpoints_are_kept()
    {
        using var train = FashionSubset.Slice(0, 128);
        using var validation = FashionSubset.Slice(1000, 64);
        var output = Path.Combine(dir, "run");
        Directory.CreateDirectory(output);
        var csv = Path.Combine(output, "results.csv");
        using var trainer = new Trainer(Tiny("epochs=3", "checkpoint.keep_last=2", "early_stopping.patience=null"), train, validation,
            new TrainerOptions { OutputDirectory = output, Sinks = [new CsvResultsSink(csv)] });
        trainer.Fit();
        var lines = File.ReadAllLines(csv);
        Assert.Equal(CsvResultsSink.Header, lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("3,12,", lines[3], StringComparison.Ordinal);
        Assert.Equal(2, new CheckpointStore(Path.Combine(output, Trainer.CheckpointFolder)).List().Count);
    }

    [Fact]
    public void Weight_decay_skips_biases_and_norm_weights_and_per_layer_groups_keep_their_lr()
    {
        var recipe = Tiny("optimizer.param_groups=[{prefix: head, lr: 0.5}]", "optimizer.weight_decay=0.01");
        using var train = FashionSubset.Slice(0, 64);
        using var trainer = new Trainer(recipe, train, train);
        var groups = trainer.Optimizer.ParamGroups.Cast<TorchSharp.Modules.SGD.ParamGroup>().ToList();
        // head: weight (decays) and bias (does not); the rest: conv weights (decay) and BN weights/biases (do not).
        Assert.Equal(4, groups.Count);
        Assert.Equal([0.5, 0.5, 0.05, 0.05], trainer.Scheduler.BaseLrs);
        Assert.Equal([0.01, 0.0, 0.01, 0.0], groups.Select(g => g.Options.weight_decay ?? double.NaN));
        // The recipe's momentum reaches every group (a group sets only its lr and weight decay).
        Assert.All(groups, g => Assert.Equal(0.9, g.Options.momentum));
        Assert.All(groups.Where(g => g.Options.weight_decay == 0).SelectMany(g => g.Parameters), p => Assert.Equal(1, p.dim()));
    }

    [Fact]
    public void Frozen_modules_do_not_change_until_their_epoch()
    {
        using var train = FashionSubset.Slice(0, 128);
        using var validation = FashionSubset.Slice(1000, 64);
        using var trainer = new Trainer(Tiny("epochs=1", "freeze=[{modules: [features], until_epoch: 1}]"), train, validation);
        using var before = trainer.Model.named_parameters().First(p => p.name.StartsWith("features", StringComparison.Ordinal)).parameter.clone();
        trainer.Fit();
        var after = trainer.Model.named_parameters().First(p => p.name.StartsWith("features", StringComparison.Ordinal)).parameter;
        Assert.Equal(before.ToArray<float>(), after.ToArray<float>());
    }

    private static void AssertBitIdentical(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, e) in expected)
        {
            var a = actual[key];
            if (e.dtype == ScalarType.Float32) Assert.True(e.ToArray<float>().SequenceEqual(a.ToArray<float>()), $"{key} differs");
            else Assert.True(e.ToArray<long>().SequenceEqual(a.ToArray<long>()), $"{key} differs");
        }
    }

    private byte[] OptimizerBytes(TorchSharp.Modules.OptimizerHelper optimizer)
    {
        var file = Path.Combine(dir, $"optimizer-{Guid.NewGuid():N}.bin");
        optimizer.save_state_dict(file);
        return File.ReadAllBytes(file);
    }
}
