namespace Pipeline.Training.Data;

/// <summary>
/// The order in which one epoch visits a dataset's items: a pure function of the epoch (and the sampler's seed), so
/// that a run resumed mid-epoch sees the same order and needs to remember only its position in it.
/// </summary>
public interface IEpochSampler
{
    /// <summary>Items per epoch.</summary>
    long Length { get; }

    /// <summary>The dataset indices of epoch <paramref name="epoch"/>, in visiting order.</summary>
    long[] Order(int epoch);
}

/// <summary>Every item once, in index order (evaluation).</summary>
public sealed class SequentialSampler(long count) : IEpochSampler
{
    public long Length => count;
    public long[] Order(int epoch)
    {
        var order = new long[count];
        for (var k = 0; k < count; k++) order[k] = k;
        return order;
    }
}

/// <summary>Every item once per epoch in a random order drawn from (seed, epoch).</summary>
public sealed class ShuffleSampler(long count, long seed) : IEpochSampler
{
    public long Length => count;

    public long[] Order(int epoch)
    {
        var order = new SequentialSampler(count).Order(epoch);
        EpochRandom.For(seed, epoch).Shuffle(order);
        return order;
    }
}

/// <summary>
/// As many draws per epoch as there are items, with replacement, each class equally likely (items weighted by the
/// inverse of their class's count): what long-tailed data needs so rare classes are seen.
/// </summary>
public sealed class ClassBalancedSampler : IEpochSampler
{
    private readonly long[][] byClass;
    private readonly long seed;

    public ClassBalancedSampler(IReadOnlyList<long> labels, long seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        Length = labels.Count;
        this.seed = seed;
        byClass = [.. labels.Select((label, index) => (label, index: (long)index)).GroupBy(x => x.label).OrderBy(g => g.Key).Select(g => g.Select(x => x.index).ToArray())];
    }

    public long Length { get; }

    public long[] Order(int epoch)
    {
        var random = EpochRandom.For(seed, epoch);
        var order = new long[Length];
        for (var k = 0; k < order.Length; k++)
        {
            var members = byClass[random.Next(byClass.Length)];
            order[k] = members[random.Next(members.Length)];
        }
        return order;
    }
}

/// <summary>A generator seeded from (seed, epoch) through SplitMix64, so neighbouring epochs get unrelated streams.</summary>
internal static class EpochRandom
{
    public static Random For(long seed, int epoch)
    {
        var z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)epoch + 0x632BE59BD9B4E019UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return new Random(unchecked((int)z) & int.MaxValue);
    }
}
