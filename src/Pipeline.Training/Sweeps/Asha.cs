using System.Globalization;

namespace Pipeline.Training.Sweeps;

/// <summary>What ASHA decided for a trial at a rung; <see cref="Reason"/> says why in words.</summary>
public sealed record AshaDecision(int Rung, int Epoch, bool Continue, string Reason);

/// <summary>
/// Asynchronous successive halving (Li et al. 2020, as Ray Tune's ASHA scheduler applies it to running trials): when a
/// trial reaches a rung, its validation metric is ranked among every metric recorded at that rung so far, its own
/// included, and it goes on only if it is within the best max(1, n / reduction). Early trials therefore rarely stop
/// and later ones must beat the record; no trial waits for another.
/// </summary>
public static class Asha
{
    /// <summary>The decision for a trial that has just completed <paramref name="epoch"/> epochs (of <paramref name="epochs"/>)
    /// with <paramref name="value"/>, or null when that epoch is not a rung. <paramref name="recorded"/>: the values other
    /// trials had at the same rung.</summary>
    public static AshaDecision? Judge(AshaSettings settings, SweepPlan plan, int epochs, int epoch, double value, IEnumerable<double> recorded)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return Judge(settings, plan.Ranking, epochs, epoch, value, recorded);
    }

    /// <inheritdoc cref="Judge(AshaSettings, SweepPlan, int, int, double, IEnumerable{double})"/>
    public static AshaDecision? Judge(AshaSettings settings, SweepRanking plan, int epochs, int epoch, double value, IEnumerable<double> recorded)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(recorded);
        var rungs = settings.Rungs(epochs);
        var rung = IndexOf(rungs, epoch);
        if (rung < 0) return null;
        var others = recorded.ToList();
        var n = others.Count + 1;
        var keep = Math.Max(1, n / settings.Reduction);
        var rank = 1 + others.Count(o => plan.Better(o, value));
        var shown = double.IsNaN(value) ? "NaN" : value.ToString("G4", CultureInfo.InvariantCulture);
        var go = !double.IsNaN(value) && rank <= keep;
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"ASHA rung {rung + 1} (epoch {epoch}): validation {plan.Metric} {shown} ranks {rank} of {n} trials there; the best {keep} go on");
        return new AshaDecision(rung + 1, epoch, go, go ? reason : reason + ", so this trial stops");
    }

    private static int IndexOf(IReadOnlyList<int> rungs, int epoch)
    {
        for (var k = 0; k < rungs.Count; k++)
            if (rungs[k] == epoch) return k;
        return -1;
    }
}
