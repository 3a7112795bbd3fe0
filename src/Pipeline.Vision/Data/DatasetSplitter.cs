using Pipeline.Vision.Sampling;

namespace Pipeline.Vision.Data;

/// <summary>Assigns train/val/test to a dataset's unassigned items: stratified by class and fixed by a seed.</summary>
public static class DatasetSplitter
{
    /// <summary>
    /// Splits the unassigned items of each class (for detection, the class of an item's first box; images without
    /// boxes form their own group) into val and test fractions, the rest train. Items that already have a split keep it.
    /// </summary>
    public static Dataset Stratified(Dataset dataset, double valFraction, double testFraction, long seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (valFraction < 0 || testFraction < 0 || valFraction + testFraction > 1)
            throw new ArgumentException($"fractions val={valFraction} and test={testFraction} must be non-negative and add up to at most 1");
        var items = dataset.Items.ToArray();
        var groups = Enumerable.Range(0, items.Length).Where(k => items[k].Split == DatasetSplit.Unassigned)
            .GroupBy(k => Stratum(dataset.Task, items[k])).OrderBy(g => g.Key);
        foreach (var group in groups)
        {
            var members = group.ToArray();
            SeedMix.Random(seed, group.Key).Shuffle(members);
            var test = (int)Math.Round(members.Length * testFraction, MidpointRounding.AwayFromZero);
            var val = Math.Min(members.Length - test, (int)Math.Round(members.Length * valFraction, MidpointRounding.AwayFromZero));
            for (var k = 0; k < members.Length; k++)
            {
                var split = k < test ? DatasetSplit.Test : k < test + val ? DatasetSplit.Val : DatasetSplit.Train;
                items[members[k]] = items[members[k]] with { Split = split };
            }
        }
        return dataset.WithItems(items);
    }

    /// <summary>
    /// Completes a dataset's splits: a dataset without any is split <see cref="Stratified"/>; given splits are kept, and a
    /// missing validation or test split is carved from the training items (and those given no split) of each class.
    /// A share of 0 leaves that split missing.
    /// </summary>
    public static Dataset CompleteSplits(Dataset dataset, double valFraction, double testFraction, long seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (!dataset.HasSplits) return Stratified(dataset, valFraction, testFraction, seed);
        var needVal = !dataset.Items.Any(i => i.Split == DatasetSplit.Val);
        var needTest = !dataset.Items.Any(i => i.Split == DatasetSplit.Test);
        // Items given no split (rare in split layouts) count as training items.
        if (!needVal && !needTest)
            return dataset.WithItems([.. dataset.Items.Select(i => i.Split == DatasetSplit.Unassigned ? i with { Split = DatasetSplit.Train } : i)]);
        var pool = dataset.WithItems([.. dataset.Items.Select(i => i.Split == DatasetSplit.Train ? i with { Split = DatasetSplit.Unassigned } : i)]);
        return Stratified(pool, needVal ? valFraction : 0, needTest ? testFraction : 0, seed);
    }

    private static int Stratum(TaskKind task, DatasetItem item) =>
        task == TaskKind.Classify ? item.Label ?? -1 : item.Boxes.Count > 0 ? item.Boxes[0].ClassId : -1;
}
