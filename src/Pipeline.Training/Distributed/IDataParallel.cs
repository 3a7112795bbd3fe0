using Pipeline.Torch;
using Pipeline.Training.Data;
using static Pipeline.Torch.torch;

namespace Pipeline.Training.Distributed;

/// <summary>
/// Where data-parallel training plugs into the loop: which rank this process is, the module the training step calls
/// (a wrapper that averages gradients over ranks during backward), how each rank's share of an epoch is chosen, and
/// the few collectives the loop needs besides gradients. Every rank must make the same calls in the same order. Only
/// the primary rank writes checkpoints and reports progress. <see cref="SingleProcess"/> is the one-process case.
/// </summary>
public interface IDataParallel
{
    int Rank { get; }
    int WorldSize { get; }
    bool IsPrimary => Rank == 0;
    /// <summary>The rank among this machine's processes: which of its GPUs the rank trains on.</summary>
    int LocalRank => Rank;

    /// <summary>
    /// The module to train through: it starts every rank from the primary's weights and buffers, and its backward
    /// leaves on every rank the gradients averaged over ranks. Wrap again whenever the set of parameters that require
    /// gradients changes (a freeze plan). The wrapper (when it is not <paramref name="model"/>) is the caller's to
    /// dispose; disposing it leaves the model alone.
    /// </summary>
    nn.Module<Tensor, Tensor> Wrap(nn.Module<Tensor, Tensor> model);

    /// <summary>
    /// While the returned scope is open, backward through <paramref name="wrapped"/> keeps gradients local (gradient
    /// accumulation); the first backward after it averages what was accumulated. Null when there is nothing to do.
    /// </summary>
    IDisposable? NoSync(nn.Module<Tensor, Tensor> wrapped);

    /// <summary>Copies the primary's buffers (BatchNorm running statistics) to every rank.</summary>
    void SyncBuffers(nn.Module model);

    /// <summary>Element-wise sum over ranks (confusion-matrix counts, loss sums, stop flags).</summary>
    double[] SumOverRanks(double[] values);

    /// <summary>Every rank's <paramref name="value"/> (all of the same length), in rank order.</summary>
    byte[][] AllGather(byte[] value);

    /// <summary>
    /// This rank's part of each epoch's order: disjoint from the other ranks' parts; with <paramref name="padToEqual"/>
    /// (training) every rank gets the same length, without it (evaluation) no item is visited twice.
    /// </summary>
    IEpochSampler Shard(IEpochSampler sampler, bool padToEqual);
}

/// <summary>One process, no communication.</summary>
public sealed class SingleProcess : IDataParallel
{
    public static readonly SingleProcess Instance = new();

    public int Rank => 0;
    public int WorldSize => 1;
    public nn.Module<Tensor, Tensor> Wrap(nn.Module<Tensor, Tensor> model) => model;
    public IDisposable? NoSync(nn.Module<Tensor, Tensor> wrapped) => null;
    public void SyncBuffers(nn.Module model) { }
    public double[] SumOverRanks(double[] values) => values;
    public byte[][] AllGather(byte[] value) => [value];
    public IEpochSampler Shard(IEpochSampler sampler, bool padToEqual) => sampler;
}
