namespace Pipeline.Vision.Evaluation;

/// <summary>
/// Counts of (true class, predicted class) pairs: row = truth, column = prediction. Mergeable, so that counts taken
/// on several shards (data-parallel ranks) add up to the whole.
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly long[] counts;

    public ConfusionMatrix(int classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        Classes = classes;
        counts = new long[classes * classes];
    }

    public int Classes { get; }

    /// <summary>How many items of class <paramref name="truth"/> were predicted as <paramref name="predicted"/>.</summary>
    public long this[int truth, int predicted] => counts[truth * Classes + predicted];

    public long Total => counts.Sum();

    public void Add(long truth, long predicted)
    {
        Check(truth, nameof(truth));
        Check(predicted, nameof(predicted));
        counts[truth * Classes + predicted]++;
    }

    public void Add(ReadOnlySpan<long> truth, ReadOnlySpan<long> predicted)
    {
        if (truth.Length != predicted.Length)
            throw new ArgumentException($"{truth.Length} true labels but {predicted.Length} predictions", nameof(predicted));
        for (var k = 0; k < truth.Length; k++) Add(truth[k], predicted[k]);
    }

    /// <summary>Adds another matrix's counts (same class count).</summary>
    public void Merge(ConfusionMatrix other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Classes != Classes) throw new ArgumentException($"cannot merge a {other.Classes}-class matrix into a {Classes}-class one", nameof(other));
        for (var k = 0; k < counts.Length; k++) counts[k] += other.counts[k];
    }

    /// <summary>The counts row by row (truth-major), e.g. for an all-reduce across ranks.</summary>
    public long[] ToFlatArray() => (long[])counts.Clone();

    public static ConfusionMatrix FromFlatArray(int classes, ReadOnlySpan<long> flat)
    {
        var matrix = new ConfusionMatrix(classes);
        if (flat.Length != matrix.counts.Length) throw new ArgumentException($"{classes} classes need {matrix.counts.Length} counts, got {flat.Length}", nameof(flat));
        flat.CopyTo(matrix.counts);
        return matrix;
    }

    /// <summary>The matrix as rows (truth) of columns (prediction).</summary>
    public long[][] ToRows()
    {
        var rows = new long[Classes][];
        for (var t = 0; t < Classes; t++) rows[t] = counts.AsSpan(t * Classes, Classes).ToArray();
        return rows;
    }

    /// <summary>Items of class c (row sum).</summary>
    public long Support(int c) => Row(c).Sum();

    /// <summary>Items predicted as c (column sum).</summary>
    public long Predicted(int c)
    {
        long sum = 0;
        for (var t = 0; t < Classes; t++) sum += this[t, c];
        return sum;
    }

    public long Correct()
    {
        long sum = 0;
        for (var c = 0; c < Classes; c++) sum += this[c, c];
        return sum;
    }

    private long[] Row(int c) => counts.AsSpan(c * Classes, Classes).ToArray();

    private void Check(long label, string name)
    {
        if (label < 0 || label >= Classes) throw new ArgumentOutOfRangeException(name, label, $"a class index must be in [0, {Classes})");
    }
}
