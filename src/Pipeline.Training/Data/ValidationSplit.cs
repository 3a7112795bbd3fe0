using Pipeline.Vision.Data;

namespace Pipeline.Training.Data;

/// <summary>Carves a seeded, stratified validation set out of a training set (each class keeps its share in both).</summary>
public static class ValidationSplit
{
    public static (TensorDataset Train, TensorDataset Validation) Split(TensorDataset dataset, double fraction, long seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (fraction is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "must be in (0, 1)");
        var labels = dataset.Labels.ToArray<long>();
        var order = new ShuffleSampler(labels.Length, seed).Order(0);
        var train = new List<long>();
        var validation = new List<long>();
        foreach (var group in order.GroupBy(i => labels[i]))
        {
            var items = group.ToArray();
            var take = (int)Math.Round(items.Length * fraction);
            validation.AddRange(items.Take(take));
            train.AddRange(items.Skip(take));
        }
        if (train.Count == 0 || validation.Count == 0)
            throw new ArgumentException($"{dataset.Count} items are too few to hold out {fraction:P0} for validation", nameof(dataset));
        train.Sort();
        validation.Sort();
        return (dataset.Subset([.. train]), dataset.Subset([.. validation]));
    }
}
