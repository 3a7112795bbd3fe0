using Pipeline.Training;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Progress;

namespace Pipeline.Cli;

/// <summary>What a local run of either task (<c>pipeline train</c>) writes into its folder besides the trainer's
/// <c>checkpoints/</c> and <c>best.safetensors</c>, and what it does with the folder's last checkpoint.</summary>
internal static class LocalRunFolder
{
    public const string RecipeFile = "recipe.json";
    public const string ResultsFile = "results.csv";
    public const string EvaluationFile = "evaluation.json";
    public const string ConfusionMatrixFile = "confusion_matrix.png";
    public const string PrCurvesFile = "pr_curves.png";
    public const string TrainingCurvesFile = "training_curves.png";

    /// <summary>With <c>--resume</c>, continues from the folder's latest checkpoint (every rank from the one rank 0 wrote).</summary>
    public static void ResumeIfAsked<TSink, TReport>(BaseTrainer<TSink, TReport> trainer, LocalTrainingOptions options, TextWriter? log)
        where TSink : IStepSink
    {
        if (!options.Resume || new CheckpointStore(Path.Combine(options.Output, RunFolderFiles.Checkpoints)).Latest() is not { } checkpoint) return;
        trainer.Resume(checkpoint);
        log?.WriteLine($"resuming from {checkpoint}");
    }

    /// <summary>The <c>--json</c> line: the task's test metrics, then how training went.</summary>
    public static Dictionary<string, object?> Summary(IEnumerable<KeyValuePair<string, object?>> metrics, StopReason reason, int epochs, long steps, int? bestEpoch,
        TimeSpan elapsed, string output)
    {
        var line = new Dictionary<string, object?>(metrics)
        {
            ["epochs"] = epochs,
            ["steps"] = steps,
            ["best_epoch"] = bestEpoch + 1, // numbered from 1, as the epochs on the terminal
            ["stop_reason"] = reason.ToString().ToLowerInvariant(),
            ["seconds"] = Math.Round(elapsed.TotalSeconds, 1),
            ["run"] = Path.GetFullPath(output),
        };
        return line;
    }
}
