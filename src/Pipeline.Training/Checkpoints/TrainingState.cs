using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Pipeline.Training.Checkpoints;

/// <summary>
/// Everything besides tensors that a resumed run needs to continue exactly: where it is (epoch, optimizer step, next
/// micro-batch of the epoch's sampler order), the scheduler, libtorch's generator state, and the best-model and
/// early-stopping bookkeeping.
/// </summary>
public sealed record TrainingState
{
    public int Epoch { get; set; }
    /// <summary>Optimizer steps taken.</summary>
    public long Step { get; set; }
    /// <summary>Index (in the epoch's sampler order, in micro-batches) of the next micro-batch to train on.</summary>
    public long BatchInEpoch { get; set; }
    /// <summary>Sum and count of the current epoch's micro-batch losses so far (its mean training loss).</summary>
    public double EpochLossSum { get; set; }
    public long EpochLossCount { get; set; }
    public JsonObject? Scheduler { get; set; }
    /// <summary>libtorch's CPU generator state (base64).</summary>
    public string? RngState { get; set; }
    /// <summary>Each rank's generator state (base64), in rank order, for a data-parallel run.</summary>
    public string[]? RankRngStates { get; set; }
    public double? BestMetric { get; set; }
    public int? BestEpoch { get; set; }
    public int EpochsWithoutImprovement { get; set; }
    public bool Finished { get; set; }

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainingState FromJson(string json) =>
        JsonSerializer.Deserialize<TrainingState>(json, Json) ?? throw new JsonException("empty training state");
}
