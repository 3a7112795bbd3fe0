using Pipeline.Training.Recipes;

namespace Pipeline.Training.Data;

/// <summary>Per-class loss weights from a class histogram, normalised to average 1 over the classes present.</summary>
public static class ClassWeights
{
    /// <summary>Null for <see cref="ClassWeighting.None"/>; classes with no items get weight 0.</summary>
    public static double[]? From(IReadOnlyList<long> counts, ClassWeighting weighting, double beta = 0.999)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (weighting == ClassWeighting.None) return null;
        var raw = counts.Select(n => n == 0 ? 0 : weighting switch
        {
            ClassWeighting.InverseFrequency => 1.0 / n,
            // Cui et al. 2019: the effective number of samples is (1 - beta^n) / (1 - beta).
            ClassWeighting.EffectiveNumber => (1 - beta) / (1 - Math.Pow(beta, n)),
            _ => throw new ArgumentOutOfRangeException(nameof(weighting), weighting, null),
        }).ToArray();
        var present = raw.Count(w => w > 0);
        var scale = present / raw.Sum();
        return [.. raw.Select(w => w * scale)];
    }
}
