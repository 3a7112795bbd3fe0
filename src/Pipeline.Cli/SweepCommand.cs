using System.CommandLine;
using System.Globalization;
using Pipeline.Training.Detection;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Training.Sweeps;
using Pipeline.Vision.Data;

namespace Pipeline.Cli;

/// <summary>
/// <c>pipeline sweep &lt;dataset&gt; --config sweep.yaml [--task] [--nproc N] [--output DIR] [--limit N] [--json]</c>: plans
/// the sweep file's trials (<see cref="SweepPlanner"/>), runs each as a <c>pipeline train</c> child process, N at once
/// (<see cref="LocalSweep"/>), stops weak ones early with ASHA, and writes the sweep folder (<see cref="SweepOutputs"/>).
/// </summary>
public static class SweepCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var dataset = new Argument<string>("dataset") { Description = "Dataset folder or archive, as `pipeline train` takes it" };
        var config = new Option<string>("--config", "-c") { Description = "The sweep file (YAML or JSON): search space, search, trials, ASHA, base recipe", Required = true };
        var task = new Option<string>("--task") { Description = "classify or detect (FCOS)", DefaultValueFactory = _ => "classify" };
        var nproc = new Option<int?>("--nproc") { Description = "Trials trained at once (default: the sweep's parallel, else 1); each gets cores / N intra-op threads" };
        var output = new Option<string?>("--output", "-o") { Description = "Sweep folder, one run folder per trial in it (default: runs/sweep-<time>)" };
        var limit = new Option<int?>("--limit") { Description = "Each trial uses only the first N training and N test images (quick sweeps)" };
        var json = new Option<bool>("--json") { Description = "End with one JSON object (the sweep's summary) on stdout; progress goes to stderr" };
        var command = new Command("sweep", "Search hyper-parameters locally: train a sweep file's trials (random or grid search), stopping weak ones early with ASHA.")
        {
            dataset, config, task, nproc, output, limit, json,
        };
        // On a worker thread: the termination handler (Ctrl+C, SIGTERM) then waits for the trials to stop.
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            var taskName = parse.GetValue(task)!;
            if (taskName is not ("classify" or "detect"))
            {
                stderr.WriteLine($"error: --task {taskName}: expected classify or detect");
                return 2;
            }
            var processes = parse.GetValue(nproc);
            if (processes is < 1 or > TrainCommand.MaxProcesses)
            {
                stderr.WriteLine($"error: --nproc {processes}: must be between 1 and {TrainCommand.MaxProcesses}");
                return 2;
            }
            if (parse.GetValue(limit) is < 1)
            {
                stderr.WriteLine($"error: --limit {parse.GetValue(limit)}: must be at least 1");
                return 2;
            }
            var path = parse.GetValue(dataset)!;
            var sweepFile = parse.GetValue(config)!;
            var folder = parse.GetValue(output) ?? Path.Combine("runs", "sweep-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            SweepPlan plan;
            try
            {
                plan = Load(sweepFile, taskName);
                // A dataset that cannot be trained fails once here, not in every trial.
                if (!LocalDatasets.IsIdx(path)) LocalDatasets.Check(path, taskName == "detect" ? TaskKind.Detect : TaskKind.Classify);
                else foreach (var split in (string[])["train", "t10k"]) FashionMnist.Load(path, split).Dispose();
            }
            catch (Exception e) when (TrainCommand.IsInputError(e))
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
            if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            {
                stderr.WriteLine($"error: {folder}: the sweep folder is not empty (a sweep writes its trials' run folders there); choose another --output");
                return 2;
            }
            var parallel = processes ?? plan.Spec.Parallel ?? 1;
            var options = new LocalSweepOptions(Path.GetFullPath(path), Path.GetFullPath(sweepFile), Path.GetFullPath(folder), parallel, parse.GetValue(limit));
            var sweep = new LocalSweep(plan, options, stderr);
            var interrupted = !sweep.Run(cancellation);
            return SweepOutputs.Write(sweep, options, parse.GetValue(json), interrupted, stdout, stderr);
        }, CancellationToken.None));
        return command;
    }

    /// <summary>The sweep file's plan: its <c>recipe:</c> file (relative to it; its <c>_base_</c> files merged) or map under
    /// every trial's values. Errors name the sweep file (or the recipe file) and the key at fault.</summary>
    internal static SweepPlan Load(string sweepFile, string task)
    {
        var spec = SweepSpec.Parse(ReadSweepFile(sweepFile), sweepFile);
        var plan = SweepPlanner.Plan(spec, task, BaseRecipe(spec, sweepFile), sweepFile);
        // Trials are watched through their results.csv, which has a column for these metrics only.
        var header = (task == "detect" ? DetectionCsvResultsSink.Header : CsvResultsSink.Header).Split(',');
        if (!header.Contains(MetricColumn(plan.Metric)))
        {
            var known = header.Where(c => c.StartsWith("val_", StringComparison.Ordinal)).Select(c => c[4..]);
            throw new RecipeException(sweepFile, "metric",
                $"'{plan.Metric}'{(spec.Metric is null ? " (the recipe's early_stopping.metric)" : "")} is not written to a local run's results.csv, which the sweep ranks trials by; use one of {string.Join(", ", known)}");
        }
        return plan;
    }

    /// <summary>The sweep file's text; refused naming the file when missing or larger than a recipe may be.</summary>
    internal static string ReadSweepFile(string sweepFile)
    {
        if (!File.Exists(sweepFile)) throw new RecipeException(sweepFile, null, "no such sweep file");
        if (new FileInfo(sweepFile).Length > RecipeDocument.MaxBytes)
            throw new RecipeException(sweepFile, null, $"over the limit of {RecipeDocument.MaxBytes} bytes for a sweep file");
        return File.ReadAllText(sweepFile);
    }

    /// <summary>The base recipe as self-contained JSON: the <c>recipe:</c> file resolved beside the sweep file, or its map, or null.</summary>
    internal static string? BaseRecipe(SweepSpec spec, string sweepFile)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.RecipeFile is { } name) return RecipeLoader.Compose(RecipePath(spec, sweepFile, name), null).Root.ToJsonString();
        return spec.InlineRecipe?.ToJsonString();
    }

    /// <summary>Where the sweep's <c>recipe:</c> file is: relative to the sweep file's folder.</summary>
    internal static string RecipePath(SweepSpec spec, string sweepFile, string name)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(sweepFile))!, name));
        if (!File.Exists(path)) throw new RecipeException(sweepFile, "recipe", $"the recipe file '{name}' ({path}) does not exist");
        return path;
    }

    /// <summary>The results.csv column of a validation metric.</summary>
    internal static string MetricColumn(string metric) => "val_" + metric;
}
