using Pipeline.Vision.Data;

namespace Pipeline.Training.Tests;

/// <summary>Small, fixed slices of Debian's Fashion-MNIST (loaded once per test run).</summary>
public static class FashionSubset
{
    private static readonly Lazy<TensorDataset> Train = new(() => FashionMnist.Load(FashionMnist.DebianPath, "train"));

    /// <summary>Items [start, start + count) of the training split (a copy: dispose it).</summary>
    public static TensorDataset Slice(long start, long count) =>
        Train.Value.Subset([.. Enumerable.Range(0, (int)count).Select(k => start + k)]);
}
