using Pipeline.Training.Data;

namespace Pipeline.Training.Distributed;

/// <summary>
/// One rank's part of another sampler's epoch order, as PyTorch's <c>DistributedSampler</c>: rank r takes positions
/// r, r + W, r + 2W, ... of the full order, so the ranks' parts are disjoint and together cover the epoch, and every
/// epoch is reshuffled by the wrapped sampler from its seed. With <paramref name="padToEqual"/> the order is first
/// padded with its own first items up to a multiple of the world size, so that every rank runs the same number of
/// batches (collectives stay in step); without it (evaluation) nothing is counted twice and parts differ by at most one.
/// </summary>
public sealed class DistributedSampler : IEpochSampler
{
    private readonly IEpochSampler inner;
    private readonly int rank;
    private readonly int worldSize;
    private readonly bool padToEqual;

    public DistributedSampler(IEpochSampler inner, int rank, int worldSize, bool padToEqual = true)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {worldSize})");
        this.inner = inner;
        this.rank = rank;
        this.worldSize = worldSize;
        this.padToEqual = padToEqual;
    }

    public long Length => padToEqual
        ? (inner.Length + worldSize - 1) / worldSize
        : (inner.Length - rank + worldSize - 1) / worldSize;

    public long[] Order(int epoch)
    {
        var full = inner.Order(epoch);
        var part = new long[Length];
        for (long k = 0; k < part.Length; k++)
        {
            // Padding wraps around (repeatedly, should the order be shorter than the world size).
            part[k] = full[(rank + k * worldSize) % full.Length];
        }
        return part;
    }
}
