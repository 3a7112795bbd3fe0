using System.Text.Json.Nodes;
using Pipeline.Training.Recipes;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Schedules;

/// <summary>
/// Sets every parameter group's lr each optimizer step: a linear warmup from <c>warmupStartFactor</c> x base lr over
/// <c>warmupSteps</c>, then a <see cref="LrCurve"/> (counted from the end of warmup, as PyTorch's SequentialLR), times an
/// optional plateau reduction. Base lrs are the groups' lrs when the scheduler is made, so per-layer lrs keep their ratios.
/// </summary>
public sealed class LrScheduler
{
    private readonly TorchSharp.Modules.OptimizerHelper optimizer;
    private readonly optim.ILearningRateController[] groups;
    private readonly double[] baseLrs;
    private readonly LrCurve curve;
    private readonly long warmupSteps;
    private readonly double warmupStartFactor;

    public LrScheduler(TorchSharp.Modules.OptimizerHelper optimizer, LrCurve curve, long warmupSteps = 0, double warmupStartFactor = 1, ReduceOnPlateau? plateau = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(curve);
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        this.optimizer = optimizer;
        this.curve = curve;
        this.warmupSteps = warmupSteps;
        this.warmupStartFactor = warmupStartFactor;
        Plateau = plateau;
        groups = [.. optimizer.ParamGroups];
        baseLrs = [.. groups.Select(g => g.LearningRate)];
        Apply();
    }

    /// <summary>The schedule a recipe describes, for <paramref name="stepsPerEpoch"/> optimizer steps per epoch.</summary>
    public static LrScheduler FromRecipe(TorchSharp.Modules.OptimizerHelper optimizer, Recipe recipe, long stepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        var s = recipe.Schedule;
        // A warmup takes at most half the run: a short run (--epochs 1) still anneals instead of ending at the peak lr.
        var warmup = (long)Math.Round(Math.Min(s.WarmupEpochs, recipe.Epochs / 2.0) * stepsPerEpoch);
        var total = (long)recipe.Epochs * stepsPerEpoch;
        LrCurve curve = s.Name switch
        {
            ScheduleKind.Cosine => new CosineCurve(Math.Max(0, total - warmup), s.MinLr),
            ScheduleKind.MultiStep => new MultiStepCurve([.. s.Milestones.Select(m => m * stepsPerEpoch - warmup)], s.Gamma),
            _ => new ConstantCurve(),
        };
        var plateau = s.Name == ScheduleKind.Plateau
            ? new ReduceOnPlateau(recipe.EarlyStopping.Metric == "loss" ? MetricMode.Min : MetricMode.Max, s.Factor, s.Patience, s.Threshold, s.Cooldown, s.PlateauMinLr)
            : null;
        return new LrScheduler(optimizer, curve, warmup, s.WarmupStartFactor, plateau);
    }

    /// <summary>Optimizer steps taken so far.</summary>
    public long StepCount { get; private set; }

    public ReduceOnPlateau? Plateau { get; }

    public IReadOnlyList<double> BaseLrs => baseLrs;

    /// <summary>The lr of group <paramref name="group"/> at step <paramref name="step"/>.</summary>
    public double LrAt(int group, long step)
    {
        var baseLr = baseLrs[group];
        var lr = step < warmupSteps
            ? baseLr * (warmupStartFactor + (1 - warmupStartFactor) * step / warmupSteps)
            : curve.Lr(baseLr, step - warmupSteps);
        return Plateau is null ? lr : Plateau.Scale(lr);
    }

    /// <summary>After each optimizer step.</summary>
    public void Step()
    {
        StepCount++;
        Apply();
    }

    /// <summary>After each validation: feeds the plateau rule (no-op for other schedules).</summary>
    public void EpochEnd(double metric)
    {
        if (Plateau?.Observe(metric) == true) Apply();
    }

    public JsonObject StateDict() => new()
    {
        ["step"] = StepCount,
        ["base_lrs"] = new JsonArray([.. baseLrs.Select(v => (JsonNode)v)]),
        ["plateau"] = Plateau?.StateDict(),
    };

    public void LoadStateDict(JsonObject state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var saved = state["base_lrs"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
        if (saved.Length != baseLrs.Length)
            throw new ArgumentException($"the scheduler state has {saved.Length} parameter groups but the optimizer has {baseLrs.Length}", nameof(state));
        saved.CopyTo(baseLrs, 0);
        StepCount = state["step"]!.GetValue<long>();
        if (Plateau is not null && state["plateau"] is JsonObject plateau) Plateau.LoadStateDict(plateau);
        Apply();
    }

    private void Apply()
    {
        for (var g = 0; g < baseLrs.Length; g++) groups[g].LearningRate = LrAt(g, StepCount);
    }
}
