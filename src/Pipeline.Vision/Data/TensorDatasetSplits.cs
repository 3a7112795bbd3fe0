namespace Pipeline.Vision.Data;

/// <summary>Seeded, stratified splits of a decoded set: every class keeps its share on both sides.</summary>
public static class TensorDatasetSplits
{
    /// <summary>
    /// Splits off <paramref name="fraction"/> of each class (rounded, at least one item of a class with two or more)
    /// into the second set. The same seed gives the same split.
    /// </summary>
    public static (TensorDataset Kept, TensorDataset Held) StratifiedSplit(this TensorDataset dataset, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (fraction is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "the held-out fraction must be in (0, 1)");
        var labels = dataset.Labels.ToArray<long>();
        var random = new Random(seed);
        var rest = new List<long>();
        var held = new List<long>();
        foreach (var group in Enumerable.Range(0, labels.Length).GroupBy(i => labels[i]).OrderBy(g => g.Key))
        {
            var members = group.Select(i => (long)i).ToArray();
            random.Shuffle(members);
            var take = members.Length < 2 ? 0 : Math.Max(1, (int)Math.Round(members.Length * fraction));
            held.AddRange(members[..take]);
            rest.AddRange(members[take..]);
        }
        rest.Sort();
        held.Sort();
        return (dataset.Subset([.. rest]), dataset.Subset([.. held]));
    }
}
