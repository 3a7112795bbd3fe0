using Pipeline.Training.Distributed;
using Pipeline.Training.Progress;

namespace Pipeline.Training;

/// <summary>How a <see cref="Trainer"/> runs, apart from the recipe: where it writes, whom it tells, when it stops.</summary>
public sealed record TrainerOptions
{
    /// <summary>Run folder for <c>checkpoints/</c> and <c>best.safetensors</c> (null: nothing is written).</summary>
    public string? OutputDirectory { get; init; }
    /// <summary>Told of the run by the primary rank only (epochs, checkpoints, the end).</summary>
    public IReadOnlyList<ITrainingSink> Sinks { get; init; } = [];
    /// <summary>Told of this rank's own steps on every rank (a service streams each rank's progress); only
    /// <see cref="ITrainingSink.OnStep"/> is called.</summary>
    public IReadOnlyList<ITrainingSink> RankSinks { get; init; } = [];
    /// <summary>Stop (with a checkpoint) once this many optimizer steps have been taken in the whole run.</summary>
    public long? MaxSteps { get; init; }
    public IDataParallel Parallel { get; init; } = SingleProcess.Instance;
}
