using Pipeline.Distributed;
using System.CommandLine;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;
using Pipeline.Training.Distributed;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Formats;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Cli;

/// <summary>
/// <c>pipeline train &lt;dataset&gt; [--task] [--config] [--epochs] [--output] [--limit] [--resume] [--json] [--nproc N] [--key=value ...]</c>.
/// With --nproc N above 1 it launches N ranks of itself (<see cref="DistributedLauncher"/>); a process started with
/// torchrun's WORLD_SIZE/RANK variables (by the launcher, or by hand on several machines) trains as that rank.
/// </summary>
public static class TrainCommand
{
    public static Command Create(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var dataset = new Argument<string>("dataset") { Description = "Dataset folder or archive (.zip, .tar, .tar.gz, .tgz) in any format: classify: IDX (as Fashion-MNIST), ImageFolder; detect: COCO, PaliGemma JSONL or YOLO" };
        var task = new Option<string>("--task") { Description = "classify or detect (FCOS)", DefaultValueFactory = _ => "classify" };
        var config = new Option<string?>("--config", "-c") { Description = "Recipe file (YAML or JSON; may inherit with _base_)" };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs (overrides the recipe)" };
        var output = new Option<string?>("--output", "-o") { Description = "Run folder (default: runs/<time>)" };
        var limit = new Option<int?>("--limit") { Description = "Use only the first N training and N test images (quick runs)" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the run folder's latest checkpoint" };
        var json = new Option<bool>("--json") { Description = "End with one JSON line of final metrics on stdout; progress goes to stderr" };
        var nproc = new Option<int>("--nproc") { Description = "Data-parallel training processes on this machine, 1 to 64 (batch_size is the global batch, split between them)", DefaultValueFactory = _ => 1 };
        var command = new Command("train", "Train a model locally and evaluate it; any recipe key can be overridden as --key.sub=value.")
        {
            dataset, task, config, epochs, output, limit, resume, json, nproc,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        // On a worker thread: the termination handler (Ctrl+C, SIGTERM) then waits for the run to stop by itself.
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            var overrides = new List<string>();
            if (parse.GetValue(epochs) is { } n) overrides.Add($"epochs={n}");
            overrides.AddRange(parse.UnmatchedTokens);
            var processes = parse.GetValue(nproc);
            if (processes is < 1 or > MaxProcesses)
            {
                stderr.WriteLine($"error: --nproc {processes}: must be between 1 and {MaxProcesses}");
                return 2;
            }
            DistributedSettings? rank;
            try
            {
                rank = DistributedSettings.FromEnvironment();
            }
            catch (ArgumentException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
            var runFolder = parse.GetValue(output)
                ?? (rank is not null ? Environment.GetEnvironmentVariable(DistributedLauncher.OutputVariable) : null)
                ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture));
            // The launcher's children carry WORLD_SIZE: they train, whatever --nproc says.
            if (rank is null && processes > 1)
            {
                // A dataset that cannot be trained fails once, before any rank starts (each would fail the same way).
                try
                {
                    var taskKind = parse.GetValue(task) == "detect" ? TaskKind.Detect : TaskKind.Classify;
                    if (!LocalDatasets.IsIdx(parse.GetValue(dataset)!)) LocalDatasets.Check(parse.GetValue(dataset)!, taskKind);
                    else foreach (var split in (string[])["train", "t10k"]) FashionMnist.Load(parse.GetValue(dataset)!, split).Dispose();
                }
                catch (Exception e) when (IsInputError(e))
                {
                    stderr.WriteLine($"error: {e.Message}");
                    return 2;
                }
                // Allowed (ranks then share cores, each with one intra-op thread), but slower than fewer ranks.
                if (processes > Environment.ProcessorCount)
                    stderr.WriteLine($"warning: --nproc {processes} starts more ranks than this machine's {Environment.ProcessorCount} cores; they will share them");
                return new DistributedLauncher(args, processes, runFolder, stdout, stderr).Run(cancellation);
            }
            // A rank of a launcher, or a trial of a sweep: it does not train on alone once its parent is gone.
            if (int.TryParse(Environment.GetEnvironmentVariable(DistributedLauncher.LauncherPidVariable), out var launcher))
                DistributedLauncher.ExitWithLauncher(launcher);
            var options = new LocalTrainingOptions(parse.GetValue(dataset)!, parse.GetValue(config), overrides, runFolder,
                parse.GetValue(limit), parse.GetValue(resume), parse.GetValue(json), rank);
            try
            {
                return parse.GetValue(task) == "detect"
                    ? new LocalDetectionRun(options, stdout, stderr).Execute(cancellation)
                    : new LocalTrainingRun(options, stdout, stderr).Execute(cancellation);
            }
            catch (Exception e) when (IsInputError(e))
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
            catch (Exception e) when (rank is not null && e is DistributedException or System.Runtime.InteropServices.ExternalException)
            {
                stderr.WriteLine($"error: rank {rank.Rank}: {e.Message}");
                return 1;
            }
        }, CancellationToken.None));
        return command;
    }

    /// <summary>The most ranks --nproc starts on one machine.</summary>
    public const int MaxProcesses = 64;

    /// <summary>Bad input (recipe, dataset): one error line naming the file and the problem, exit code 2.</summary>
    internal static bool IsInputError(Exception e) =>
        e is RecipeException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException
            or DatasetFormatException or DatasetRefusedException or ArchiveLimitException;
}
