namespace Pipeline.Vision.Sampling;

/// <summary>The order in which one epoch visits a dataset's items (indices may repeat for sampling with replacement).</summary>
public interface ISampler
{
    /// <summary>How many indices <see cref="Epoch"/> returns.</summary>
    int Length { get; }

    long[] Epoch(int epoch);
}

/// <summary>Every item once per epoch, in a new order each epoch, fixed by the seed.</summary>
public sealed class ShuffledSampler : ISampler
{
    private readonly int _count;
    private readonly long _seed;

    public ShuffledSampler(int count, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _count = count;
        _seed = seed;
    }

    public int Length => _count;

    public long[] Epoch(int epoch)
    {
        var order = new long[_count];
        for (var k = 0; k < _count; k++) order[k] = k;
        SeedMix.Random(_seed, epoch).Shuffle(order);
        return order;
    }
}

/// <summary>
/// For long-tailed data: draws items with replacement, each with weight 1 / (its class's count), so every class is
/// drawn about equally often. <see cref="Length"/> draws per epoch (by default the dataset size).
/// </summary>
public sealed class ClassBalancedSampler : ISampler
{
    private readonly double[] _cumulative;
    private readonly long _seed;

    public ClassBalancedSampler(IReadOnlyList<long> labels, long seed, int? samplesPerEpoch = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count == 0) throw new ArgumentException("no labels to sample from", nameof(labels));
        var counts = labels.GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        _cumulative = new double[labels.Count];
        var total = 0.0;
        for (var k = 0; k < labels.Count; k++) _cumulative[k] = total += 1.0 / counts[labels[k]];
        _seed = seed;
        Length = samplesPerEpoch ?? labels.Count;
    }

    public int Length { get; }

    public long[] Epoch(int epoch)
    {
        var random = SeedMix.Random(_seed, epoch);
        var total = _cumulative[^1];
        var draws = new long[Length];
        for (var k = 0; k < draws.Length; k++)
        {
            var at = Array.BinarySearch(_cumulative, random.NextDouble() * total);
            draws[k] = Math.Min(at < 0 ? ~at : at, _cumulative.Length - 1);
        }
        return draws;
    }
}

/// <summary>What a <see cref="DistributedSampler"/> does with indices that do not divide evenly among the ranks.</summary>
public enum ShardRemainder
{
    /// <summary>Left out this epoch (a different few each epoch when the inner sampler shuffles): shards stay disjoint.</summary>
    Drop,
    /// <summary>Filled up by repeating the first indices, as PyTorch's DistributedSampler: every index is seen.</summary>
    Pad,
}

/// <summary>
/// One rank's share of another sampler's epoch: every rank computes the same epoch order from the shared seed and
/// takes every world-size-th index from its rank on, so shards are disjoint, equally long (steps stay in lockstep
/// for all-reduce) and reshuffled each epoch.
/// </summary>
public sealed class DistributedSampler : ISampler
{
    private readonly ISampler _inner;
    private readonly int _rank;
    private readonly int _world;
    private readonly ShardRemainder _remainder;

    public DistributedSampler(ISampler inner, int rank, int worldSize, ShardRemainder remainder = ShardRemainder.Drop)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} is not in 0..{worldSize - 1}");
        _inner = inner;
        _rank = rank;
        _world = worldSize;
        _remainder = remainder;
    }

    public int Length => _remainder == ShardRemainder.Drop ? _inner.Length / _world : (_inner.Length + _world - 1) / _world;

    public long[] Epoch(int epoch)
    {
        var all = _inner.Epoch(epoch);
        var shard = new long[Length];
        for (var k = 0; k < shard.Length; k++) shard[k] = all[(k * _world + _rank) % all.Length];
        return shard;
    }
}
