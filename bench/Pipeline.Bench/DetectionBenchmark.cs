using System.Diagnostics;
using System.Globalization;
using Pipeline.Training.Detection;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision.Plotting;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Bench;

/// <summary>
/// <c>detection [--out DIR] [--seed N] [--train N] [--val N] [--test N] [--measure-steps N] [--resume] [--max-minutes M] [key=value ...]</c>: generates
/// the Fashion-MNIST detection set (seeded), trains the default detect recipe (with the given overrides) on its training
/// split, picks the best epoch by validation mAP@.5, evaluates it on the test split and writes <c>evaluation.json</c> and
/// <c>pr_curves.png</c> and <c>confusion_matrix.png</c> into the run folder. <c>--measure-steps N</c> only times N training steps; <c>--resume</c> continues
/// the run folder's latest checkpoint (minutes then count this process only); <c>--max-minutes M</c> stops training
/// after M minutes of this process and evaluates the best epoch so far. Ends with
/// <c>detection map50=X map=Y minutes=Z</c>.
/// </summary>
internal static class DetectionBenchmark
{
    /// <summary>The generated set's options both detection benchmarks take: <c>--seed</c>, <c>--train</c>, <c>--val</c>,
    /// <c>--test</c>; null for any other option.</summary>
    internal static Func<DetectionSetOptions, DetectionSetOptions>? SetOption(string name, string value)
    {
        int N() => int.Parse(value, CultureInfo.InvariantCulture);
        return name switch
        {
            "--seed" => o => o with { Seed = N() },
            "--train" => o => o with { TrainImages = N() },
            "--val" => o => o with { ValImages = N() },
            "--test" => o => o with { TestImages = N() },
            _ => null,
        };
    }

    public static int Run(string[] args)
    {
        var clock = Stopwatch.StartNew();
        var options = new DetectionSetOptions { Seed = 7, TrainImages = 8000, ValImages = 200, TestImages = 300 };
        string? output = null;
        int? measureSteps = null;
        var resume = false;
        double? maxMinutes = null;
        var overrides = new List<string>();
        for (var k = 0; k < args.Length; k++)
        {
            if (!args[k].StartsWith("--", StringComparison.Ordinal)) { overrides.Add(args[k]); continue; }
            if (args[k] == "--resume") { resume = true; continue; }
            if (k + 1 >= args.Length) { Console.Error.WriteLine($"{args[k]} needs a value"); return 2; }
            var value = args[++k];
            int Int() => int.Parse(value, CultureInfo.InvariantCulture);
            switch (args[k - 1])
            {
                case "--out": output = value; break;
                case var set when SetOption(set, value) is { } change: options = change(options); break;
                case "--measure-steps": measureSteps = Int(); break;
                case "--max-minutes": maxMinutes = double.Parse(value, CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown option {args[k - 1]}"); return 2;
            }
        }
        var recipe = DetectionRecipes.Load(null, overrides);
        output ??= Path.Combine(Path.GetTempPath(), $"pipeline-detection-bench-{Environment.ProcessId}");
        var data = Path.Combine(output, "data");
        var run = Path.Combine(output, "run");
        Directory.CreateDirectory(run);
        Console.WriteLine($"torch threads: {get_num_threads()}, load average: {MachineLoad.Average()}");

        var generate = Stopwatch.StartNew();
        if (!File.Exists(Path.Combine(data, "annotations", "instances_train.json")))
            new DetectionSetGenerator().Write(data, options);
        using var source = new FolderSource(data);
        var dataset = DatasetLoader.Load(source, "coco").Dataset;
        var (height, width) = (recipe.Input.Size![0], recipe.Input.Size[1]);
        using var train = DetectionTensors.ToTensorDataset(dataset, source, DatasetSplit.Train, height, width, recipe.Detection.Fit);
        using var validation = DetectionTensors.ToTensorDataset(dataset, source, DatasetSplit.Val, height, width, recipe.Detection.Fit);
        using var test = DetectionTensors.ToTensorDataset(dataset, source, DatasetSplit.Test, height, width, recipe.Detection.Fit);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"set: train {train.Count} images / {train.BoxCount} boxes, val {validation.Count}, test {test.Count} at {height}x{width}, {generate.Elapsed.TotalSeconds:F1}s to generate and decode"));

        if (measureSteps is { } steps)
        {
            using var timed = new DetectionTrainer(recipe, train, validation, new DetectionTrainerOptions { MaxSteps = 1 });
            timed.Fit(); // warm-up step
            var watch = Stopwatch.StartNew();
            using var trainer = new DetectionTrainer(recipe with { EarlyStopping = recipe.EarlyStopping with { Patience = null } }, train, validation,
                new DetectionTrainerOptions { MaxSteps = steps });
            trainer.Fit();
            var perStep = watch.Elapsed.TotalSeconds / steps;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"detection step_seconds={perStep:F3} batch={recipe.BatchSize} epoch_minutes={perStep * trainer.StepsPerEpoch / 60:F2} steps_per_epoch={trainer.StepsPerEpoch} load={MachineLoad.Average()}"));
            // torchvision's FCOS of the same shape, batch and input, on random images with the set's boxes per image.
            var d = recipe.Detection;
            var peer = PeerProcess.RunPython("fcos_bench.py", "step_seconds", get_num_threads(), recipe.Model.Name,
                d.FpnChannels.ToString(CultureInfo.InvariantCulture), d.HeadConvs.ToString(CultureInfo.InvariantCulture),
                trainer.Classes.Count.ToString(CultureInfo.InvariantCulture), recipe.BatchSize.ToString(CultureInfo.InvariantCulture),
                height.ToString(CultureInfo.InvariantCulture), width.ToString(CultureInfo.InvariantCulture),
                ((double)train.BoxCount / train.Count).ToString("F2", CultureInfo.InvariantCulture), steps.ToString(CultureInfo.InvariantCulture),
                get_num_threads().ToString(CultureInfo.InvariantCulture));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"detection ours_step_seconds={perStep:F3} torchvision_step_seconds={peer:F3} ratio={perStep / peer:F3} load={MachineLoad.Average()}"));
            return 0;
        }

        File.WriteAllText(Path.Combine(run, "recipe.json"), Pipeline.Training.Recipes.RecipeWriter.ToJson(recipe));
        var results = Path.Combine(run, "results.csv");
        var checkpoint = resume ? new Pipeline.Training.Checkpoints.CheckpointStore(Path.Combine(run, DetectionTrainer.CheckpointFolder)).Latest() : null;
        if (checkpoint is null && File.Exists(results)) File.Delete(results);
        using (var trainer = new DetectionTrainer(recipe, train, validation, new DetectionTrainerOptions
        {
            OutputDirectory = run,
            Sinks = [new DetectionConsoleSink(Console.Out), new DetectionCsvResultsSink(results)],
        }))
        {
            if (checkpoint is not null)
            {
                trainer.Resume(checkpoint);
                Console.WriteLine($"resuming from {checkpoint}");
            }
            // A time limit stops training between steps (with a checkpoint); the best epoch so far is then evaluated.
            using var limit = maxMinutes is { } m ? new CancellationTokenSource(TimeSpan.FromMinutes(m) - clock.Elapsed) : new CancellationTokenSource();
            var summary = trainer.Fit(limit.Token);
            trainer.RestoreBestWeights();
            var (report, loss) = trainer.Evaluate(test);
            File.WriteAllText(Path.Combine(run, "evaluation.json"), report.ToJson());
            File.WriteAllBytes(Path.Combine(run, "pr_curves.png"), Charts.PrecisionRecall(report).ToPng());
            File.WriteAllBytes(Path.Combine(run, "confusion_matrix.png"), Charts.ConfusionMatrix(report).ToPng());
            var minutes = clock.Elapsed.TotalMinutes;
            Console.WriteLine($"run folder: {run}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"test: loss {loss:F4} map75 {report.Map75:F4} ar {report.Ar:F4}; best epoch {summary.BestEpoch + 1} of {summary.Epochs} ({summary.Reason}); load {MachineLoad.Average()}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"detection map50={report.Map50:F4} map={report.Map:F4} minutes={minutes:F1}"));
        }
        return 0;
    }
}
