using Pipeline.Distributed;
using System.Globalization;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;
using Pipeline.Vision.Serialization;
using Pipeline.Training;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Distributed;
using Pipeline.Training.DistributedWorker;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Training.Detection;

// usage: train --rank R --world N --port P [--timeout-ms T] [--train-start S] [--train N] [--val M] [--max-steps K]
//        [--out DIR] [--weights FILE] [--resume 1] [--detect COCO-FOLDER [--initial FILE]] -- recipe overrides (key=value ...)
// Trains through Pipeline.Training's Trainer on Fashion-MNIST slices (with --detect: its DetectionTrainer on a COCO
// folder's train and val splits) as one rank of a ProcessGroupParallel; prints
// key=value lines (rank 0 also "step=N" after each logged optimizer step); on a failure prints "error: <message>" on
// stderr and exits with 3.
// Each rank takes the thread count its launcher gives it (2 ranks on 2 cores: 1 each).
TorchThreads.Apply();
var split = Array.IndexOf(args, "--");
var head = split < 0 ? args : args[..split];
var overrides = split < 0 ? [] : args[(split + 1)..];
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var k = 1; k + 1 < head.Length; k += 2) options[head[k].TrimStart('-')] = head[k + 1];
int Int(string key, int fallback) => options.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
if (head.Length == 0 || head[0] != "train")
{
    Console.Error.WriteLine("usage: Pipeline.Training.DistributedWorker train --rank R --world N --port P [...] -- key=value ...");
    return 2;
}

try
{
    TestModels.Register();
    var settings = new DistributedSettings(Int("rank", 0), Int("world", 1), "127.0.0.1", Int("port", 29500), TimeSpan.FromMilliseconds(Int("timeout-ms", 30_000)));
    using var parallel = new ProcessGroupParallel(settings);
    if (options.GetValueOrDefault("detect") is { } cocoFolder) return TrainDetector(cocoFolder, parallel, overrides, options);
    var recipe = RecipeLoader.Load(null, overrides);
    var all = FashionMnist.Load(FashionMnist.DebianPath, "train");
    var start = Int("train-start", 0);
    using var train = all.Subset([.. Enumerable.Range(start, Int("train", 256)).Select(k => (long)k)]);
    using var validation = all.Subset([.. Enumerable.Range(50_000, Int("val", 64)).Select(k => (long)k)]);
    all.Dispose();

    var output = options.GetValueOrDefault("out");
    var trainerOptions = new TrainerOptions
    {
        OutputDirectory = output,
        MaxSteps = options.ContainsKey("max-steps") ? Int("max-steps", 0) : null,
        Parallel = parallel,
        // Only rank 0 reports: with log_every=1 it prints each step (the ranks move in step through the collectives).
        Sinks = [new CallbackSink(onStep: p => Print("step", p.Step.ToString(CultureInfo.InvariantCulture)))],
    };
    using var trainer = new Trainer(recipe, train, validation, trainerOptions);
    if (Int("resume", 0) == 1 && output is not null)
    {
        var checkpoint = new CheckpointStore(Path.Combine(output, Trainer.CheckpointFolder)).Latest()
            ?? throw new InvalidOperationException($"no checkpoint under {output}");
        trainer.Resume(checkpoint);
        Print("resumed", checkpoint);
    }
    var summary = trainer.Fit();
    Print("reason", summary.Reason.ToString());
    Print("steps", summary.Steps.ToString(CultureInfo.InvariantCulture));
    Print("best_metric", (summary.BestMetric ?? double.NaN).ToString("R", CultureInfo.InvariantCulture));
    Print("last_accuracy", (summary.LastValidation?.Accuracy ?? double.NaN).ToString("R", CultureInfo.InvariantCulture));
    if (options.GetValueOrDefault("weights") is { } weights)
    {
        using var scope = torch.NewDisposeScope();
        SafeTensors.Save(weights, trainer.Model.state_dict());
        Print("weights", weights);
    }
    return 0;
}
catch (Exception e) when (e is DistributedException or System.Runtime.InteropServices.ExternalException or InvalidOperationException or RecipeException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 3;
}

static int TrainDetector(string folder, ProcessGroupParallel parallel, string[] overrides, Dictionary<string, string> options)
{
    var recipe = DetectionRecipes.Load(null, overrides);
    using var source = new FolderSource(folder);
    var dataset = DatasetLoader.Load(source, "coco").Dataset;
    var (height, width) = (recipe.Input.Size![0], recipe.Input.Size[1]);
    using var train = DetectionTensors.ToTensorDataset(dataset, source, DatasetSplit.Train, height, width, recipe.Detection.Fit);
    using var validation = DetectionTensors.ToTensorDataset(dataset, source, DatasetSplit.Val, height, width, recipe.Detection.Fit);
    using var trainer = new DetectionTrainer(recipe, train, validation, new DetectionTrainerOptions
    {
        MaxSteps = options.TryGetValue("max-steps", out var steps) ? int.Parse(steps, CultureInfo.InvariantCulture) : null,
        Parallel = parallel,
    });
    if (options.GetValueOrDefault("initial") is { } initial)
    {
        using var scope = torch.NewDisposeScope();
        SafeTensors.Save(initial, trainer.Model.state_dict());
    }
    var summary = trainer.Fit();
    Print("reason", summary.Reason.ToString());
    Print("steps", summary.Steps.ToString(CultureInfo.InvariantCulture));
    if (options.GetValueOrDefault("weights") is { } weights)
    {
        using var scope = torch.NewDisposeScope();
        SafeTensors.Save(weights, trainer.Model.state_dict());
        Print("weights", weights);
    }
    return 0;
}

static void Print(string key, string value)
{
    Console.WriteLine($"{key}={value}");
    Console.Out.Flush();
}
