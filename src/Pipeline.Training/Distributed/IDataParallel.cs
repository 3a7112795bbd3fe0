using Pipeline.Torch;
using Pipeline.Training.Data;
using static Pipeline.Torch.torch;

namespace Pipeline.Training.Distributed;

/// <summary>
/// Where data-parallel training plugs into the loop: which rank this process is, how each rank's share of an epoch is
/// chosen, how gradients are averaged between backward and the optimizer step, and how metric counts are summed.
/// Only the primary rank writes checkpoints and reports progress. <see cref="SingleProcess"/> is the one-process case.
/// </summary>
public interface IDataParallel
{
    int Rank { get; }
    int WorldSize { get; }
    bool IsPrimary => Rank == 0;

    /// <summary>Makes every rank start from the primary's weights (and buffers).</summary>
    void BroadcastModel(nn.Module model);

    /// <summary>Averages gradients over ranks, after the last backward of an accumulation group and before clipping.</summary>
    void AverageGradients(IReadOnlyList<Parameter> parameters);

    /// <summary>Element-wise sum over ranks (confusion-matrix counts, loss sums).</summary>
    double[] SumOverRanks(double[] values);

    /// <summary>This rank's part of each epoch's order.</summary>
    IEpochSampler Shard(IEpochSampler sampler);
}

/// <summary>One process, no communication.</summary>
public sealed class SingleProcess : IDataParallel
{
    public static readonly SingleProcess Instance = new();

    public int Rank => 0;
    public int WorldSize => 1;
    public void BroadcastModel(nn.Module model) { }
    public void AverageGradients(IReadOnlyList<Parameter> parameters) { }
    public double[] SumOverRanks(double[] values) => values;
    public IEpochSampler Shard(IEpochSampler sampler) => sampler;
}
