using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Training.Recipes;
using Pipeline.Training.Schedules;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

public class ScheduleTests
{
    private static readonly Lazy<Dictionary<string, double[][]>> Reference = new(RunPython);

    private static Dictionary<string, double[][]> RunPython()
    {
        var psi = new ProcessStartInfo("/usr/bin/python3", Path.Combine(AppContext.BaseDirectory, "Reference", "schedules.py"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"schedules.py failed: {stderr}");
        return JsonSerializer.Deserialize<Dictionary<string, double[][]>>(stdout)!;
    }

    // Two groups with base lrs 0.1 and 0.01, as the reference script.
    private static (TorchSharp.Modules.Parameter[] Params, TorchSharp.Modules.SGD Optimizer) TwoGroups()
    {
        var a = new TorchSharp.Modules.Parameter(zeros(1));
        var b = new TorchSharp.Modules.Parameter(zeros(1));
        return ([a, b], optim.SGD([new TorchSharp.Modules.SGD.ParamGroup([a], new TorchSharp.Modules.SGD.Options { LearningRate = 0.1 }),
            new TorchSharp.Modules.SGD.ParamGroup([b], new TorchSharp.Modules.SGD.Options { LearningRate = 0.01 })], 0.1, momentum: 0.9));
    }

    private static void AssertSequence(string name, Func<TorchSharp.Modules.OptimizerHelper, LrScheduler> make)
    {
        var expected = Reference.Value[name];
        var (ps, opt) = TwoGroups();
        using var _ = opt;
        var scheduler = make(opt);
        for (var step = 0; step < expected.Length; step++)
        {
            for (var g = 0; g < 2; g++)
                Assert.True(Math.Abs(expected[step][g] - opt.ParamGroups.ElementAt(g).LearningRate) <= 1e-12 * Math.Max(1, expected[step][g]),
                    $"{name} step {step} group {g}: PyTorch {expected[step][g]}, ours {opt.ParamGroups.ElementAt(g).LearningRate}");
            scheduler.Step();
        }
        foreach (var p in ps) p.Dispose();
    }

    [Fact]
    public void Linear_warmup_then_cosine_matches_pytorchs_sequential_lr() =>
        AssertSequence("warmup_cosine", o => new LrScheduler(o, new CosineCurve(15, 0.001), warmupSteps: 5, warmupStartFactor: 0.1));

    [Fact]
    public void Linear_warmup_then_multi_step_matches_pytorchs_sequential_lr() =>
        AssertSequence("warmup_multistep", o => new LrScheduler(o, new MultiStepCurve([6, 10], 0.5), warmupSteps: 4, warmupStartFactor: 0.25));

    [Fact]
    public void Cosine_without_warmup_matches_pytorch() =>
        AssertSequence("cosine", o => new LrScheduler(o, new CosineCurve(10)));

    [Fact]
    public void Reduce_on_plateau_matches_pytorch_with_patience_cooldown_and_min_lr()
    {
        var expected = Reference.Value["plateau"];
        var metrics = Reference.Value["plateau_metrics"].Select(m => m[0]).ToArray();
        var (_, opt) = TwoGroups();
        using var __ = opt;
        var scheduler = new LrScheduler(opt, new ConstantCurve(), plateau: new ReduceOnPlateau(MetricMode.Max, 0.5, 1, 1e-4, cooldown: 1, minLr: 0.004));
        for (var k = 0; k < metrics.Length; k++)
        {
            scheduler.EpochEnd(metrics[k]);
            for (var g = 0; g < 2; g++) Assert.Equal(expected[k][g], opt.ParamGroups.ElementAt(g).LearningRate, 12);
        }
        Assert.True(scheduler.Plateau!.Reductions >= 2);
    }

    [Fact]
    public void A_recipe_schedule_counts_warmup_and_milestones_in_epochs_of_optimizer_steps()
    {
        var (_, opt) = TwoGroups();
        using var __ = opt;
        var recipe = RecipeLoader.Load(null, ["epochs=6", "schedule.name=multi_step", "schedule.milestones=[2, 4]", "schedule.warmup_epochs=1",
            "schedule.warmup_start_factor=0.5", "schedule.gamma=0.1"]);
        var s = LrScheduler.FromRecipe(opt, recipe, stepsPerEpoch: 10);
        Assert.Equal(0.05, s.LrAt(0, 0), 12);
        Assert.Equal(0.1, s.LrAt(0, 10), 12);
        Assert.Equal(0.1, s.LrAt(0, 19), 12);
        Assert.Equal(0.01, s.LrAt(0, 20), 12);
        Assert.Equal(0.001, s.LrAt(0, 40), 12);
        Assert.Equal(0.0001, s.LrAt(1, 45), 12);
    }

    [Fact]
    public void A_warmup_longer_than_half_the_run_is_cut_to_half_so_a_short_run_still_anneals()
    {
        var (_, opt) = TwoGroups();
        using var __ = opt;
        var recipe = RecipeLoader.Load(null, ["epochs=1", "schedule.warmup_epochs=1", "schedule.warmup_start_factor=0.1"]);
        var s = LrScheduler.FromRecipe(opt, recipe, stepsPerEpoch: 10);
        Assert.Equal(0.01, s.LrAt(0, 0), 12);
        Assert.Equal(0.1, s.LrAt(0, 5), 12);
        Assert.True(s.LrAt(0, 9) < 0.01);
        var (_, other) = TwoGroups();
        using var ___ = other;
        var longer = LrScheduler.FromRecipe(other, RecipeLoader.Load(null, ["epochs=4", "schedule.warmup_epochs=1"]), stepsPerEpoch: 10);
        Assert.Equal(0.1, longer.LrAt(0, 10), 12);
        Assert.True(longer.LrAt(0, 9) < 0.1);
    }

    [Fact]
    public void A_restored_scheduler_continues_where_the_saved_one_was()
    {
        var (_, first) = TwoGroups();
        var (_, second) = TwoGroups();
        using (first)
        using (second)
        {
            var a = new LrScheduler(first, new CosineCurve(20), 3, 0.1, new ReduceOnPlateau(MetricMode.Min, 0.5, 0));
            for (var k = 0; k < 7; k++) a.Step();
            a.EpochEnd(1.0);
            a.EpochEnd(2.0);
            var b = new LrScheduler(second, new CosineCurve(20), 3, 0.1, new ReduceOnPlateau(MetricMode.Min, 0.5, 0));
            b.LoadStateDict(JsonSerializer.Deserialize<System.Text.Json.Nodes.JsonObject>(a.StateDict().ToJsonString())!);
            Assert.Equal(first.ParamGroups.ElementAt(1).LearningRate, second.ParamGroups.ElementAt(1).LearningRate);
            a.Step();
            b.Step();
            Assert.Equal(first.ParamGroups.ElementAt(0).LearningRate, second.ParamGroups.ElementAt(0).LearningRate);
            Assert.Equal(1, b.Plateau!.Reductions);
        }
    }
}
