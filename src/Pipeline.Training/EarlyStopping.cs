using Pipeline.Training.Recipes;

namespace Pipeline.Training;

/// <summary>
/// The recipe's early-stopping rule, shared by the training loops (which track it epoch by epoch) and the evaluator
/// service (which replays it over the validation reports it wrote): an epoch improves when its metric beats the best so
/// far by more than <c>min_delta</c>, downwards for <c>loss</c> and upwards for every other metric; training stops once
/// <c>patience</c> epochs in a row have not improved.
/// </summary>
public static class EarlyStopping
{
    /// <summary>Whether <paramref name="metric"/> improves on <paramref name="best"/> (none yet: any number does; NaN never).</summary>
    public static bool Improves(EarlyStoppingRecipe rule, double metric, double? best)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (double.IsNaN(metric)) return false;
        if (best is not { } b) return true;
        return rule.Metric == "loss" ? metric < b - rule.MinDelta : metric > b + rule.MinDelta;
    }

    /// <summary>The best epoch of a metric history (in epoch order; -1 when none improved) and the epochs since it.</summary>
    public static (int BestEpoch, int EpochsWithoutImprovement) Track(EarlyStoppingRecipe rule, IReadOnlyList<double> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        double? best = null;
        var bestEpoch = -1;
        var since = 0;
        for (var epoch = 0; epoch < history.Count; epoch++)
        {
            if (Improves(rule, history[epoch], best))
            {
                (best, bestEpoch, since) = (history[epoch], epoch, 0);
            }
            else since++;
        }
        return (bestEpoch, since);
    }

    /// <summary>Whether the rule stops training after <paramref name="history"/>.</summary>
    public static bool ShouldStop(EarlyStoppingRecipe rule, IReadOnlyList<double> history) =>
        PatienceRanOut(rule, Track(rule, history).EpochsWithoutImprovement);

    /// <summary>Whether <paramref name="epochsWithoutImprovement"/> in a row use up the rule's patience (none: never).</summary>
    public static bool PatienceRanOut(EarlyStoppingRecipe rule, int epochsWithoutImprovement)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return rule.Patience is { } patience && epochsWithoutImprovement >= patience;
    }
}
