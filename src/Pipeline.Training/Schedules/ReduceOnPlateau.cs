using Pipeline.Vision;
using System.Text.Json.Nodes;
using Pipeline.Training.Recipes;

namespace Pipeline.Training.Schedules;

/// <summary>
/// PyTorch's ReduceLROnPlateau (relative threshold): after more than <c>patience</c> epochs without a metric better than
/// best * (1 ± threshold), the lr is multiplied by <c>factor</c>, then <c>cooldown</c> epochs pass before counting again.
/// Keeps the number of reductions; the lr is max(base * factor^reductions, min_lr).
/// </summary>
public sealed class ReduceOnPlateau(MetricMode mode, double factor, int patience, double threshold = 1e-4, int cooldown = 0, double minLr = 0)
{
    private double? best;
    private int badEpochs;
    private int cooldownLeft;

    public int Reductions { get; private set; }

    public double Scale(double baseLr) => Math.Max(baseLr * Math.Pow(factor, Reductions), minLr);

    /// <summary>Takes one epoch's metric; true when the lr was reduced.</summary>
    public bool Observe(double metric)
    {
        var better = best is not { } b || (mode == MetricMode.Max ? metric > b * (1 + threshold) : metric < b * (1 - threshold));
        if (better)
        {
            best = metric;
            badEpochs = 0;
        }
        else badEpochs++;
        if (cooldownLeft > 0)
        {
            cooldownLeft--;
            badEpochs = 0;
        }
        if (badEpochs <= patience) return false;
        Reductions++;
        cooldownLeft = cooldown;
        badEpochs = 0;
        return true;
    }

    public JsonObject StateDict() => new()
    {
        ["best"] = best,
        ["bad_epochs"] = badEpochs,
        ["cooldown_left"] = cooldownLeft,
        ["reductions"] = Reductions,
    };

    public void LoadStateDict(JsonObject state)
    {
        ArgumentNullException.ThrowIfNull(state);
        best = state["best"]?.GetValue<double>();
        badEpochs = state["bad_epochs"]!.GetValue<int>();
        cooldownLeft = state["cooldown_left"]!.GetValue<int>();
        Reductions = state["reductions"]!.GetValue<int>();
    }
}
