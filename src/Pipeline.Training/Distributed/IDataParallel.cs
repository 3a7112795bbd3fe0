using Pipeline.Distributed;
using Pipeline.Training.Data;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Distributed;

/// <summary>
/// Where data-parallel training plugs into the loop: which rank this process is, what averages the gradients over
/// ranks after backward, how each rank's share of an epoch is chosen, and
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
    /// Joins <paramref name="model"/> to the group: every rank takes the primary's weights and buffers, and the result
    /// averages the gradients over ranks when the loop calls <c>SynchronizeGradients()</c> after the backward of an
    /// optimizer step's last micro-batch (gradient accumulation stays local until then). It covers the parameters that
    /// require gradients now: attach again whenever that set changes (a freeze plan). Null in one process. The result is
    /// the caller's to dispose; disposing it leaves the model alone.
    /// </summary>
    DistributedDataParallel? Attach(nn.Module model);

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
    public DistributedDataParallel? Attach(nn.Module model) => null;
    public void SyncBuffers(nn.Module model) { }
    public double[] SumOverRanks(double[] values) => values;
    public byte[][] AllGather(byte[] value) => [value];
    public IEpochSampler Shard(IEpochSampler sampler, bool padToEqual) => sampler;
}
