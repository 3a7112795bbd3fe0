using System.Diagnostics;
using System.Globalization;
using Pipeline.Training;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using static TorchSharp.torch;

namespace Pipeline.Bench;

/// <summary>
/// <c>transfer [--data DIR] [--train N] [--validation N] [--seed N] [key=value ...]</c>: fine-tunes resnet18_cntk on a
/// seed-chosen subset of Fashion-MNIST's training images (1,000 by default) from the imported ImageNet backbone
/// (<c>model.pretrained: imagenet-resnet18</c>) and from scratch, with the same recipe, subset and budget; evaluates
/// both on the 10,000 test images and ends with <c>transfer pretrained=X scratch=Y</c>. The recipe is the backbone's
/// input (grey on 3 channels, 255 x minus its ImageNet means) at 48x48 rather than its 224x224, 5 epochs, so that both
/// runs and their 10,000-image evaluations fit in minutes on 2 CPU cores; any key can be overridden.
/// </summary>
internal static class TransferBenchmark
{
    // The shared recipe: only model.pretrained differs between the two runs.
    private static readonly string[] SharedRecipe =
    [
        "model.pretrained=imagenet-resnet18", "input.size=[48, 48]", "epochs=5", "batch_size=32",
        "optimizer.lr=0.01", "schedule.warmup_epochs=0.5", "augment.crop_padding=4",
        "early_stopping.patience=null", "checkpoint.every_epochs=0", "log_every=1000",
    ];

    public static int Run(string[] args)
    {
        var data = FashionMnist.DebianPath;
        int trainCount = 1000, validationCount = 300;
        long seed = 16;
        var overrides = new List<string>();
        for (var k = 0; k < args.Length; k++)
        {
            switch (args[k])
            {
                case "--data" when k + 1 < args.Length: data = args[++k]; break;
                case "--train" when k + 1 < args.Length: trainCount = int.Parse(args[++k], CultureInfo.InvariantCulture); break;
                case "--validation" when k + 1 < args.Length: validationCount = int.Parse(args[++k], CultureInfo.InvariantCulture); break;
                case "--seed" when k + 1 < args.Length: seed = long.Parse(args[++k], CultureInfo.InvariantCulture); break;
                case var a when a.StartsWith("--", StringComparison.Ordinal) && !a.Contains('=', StringComparison.Ordinal): Console.Error.WriteLine($"unknown option {a}"); return 2;
                default: overrides.Add(args[k].TrimStart('-')); break;
            }
        }
        var clock = Stopwatch.StartNew();
        var pretrained = RecipeLoader.Load(null, [.. SharedRecipe, $"seed={seed}", .. overrides]);
        var scratch = pretrained with { Model = pretrained.Model with { Pretrained = null } };

        using var all = FashionMnist.Load(data, "train");
        using var test = FashionMnist.Load(data, "t10k");
        if (trainCount + validationCount > all.Count) throw new ArgumentException($"--train {trainCount} and --validation {validationCount} exceed the {all.Count} training images");
        // One seeded draw for both runs: the first images train, the next ones validate (per epoch, not for the result).
        var order = Enumerable.Range(0, (int)all.Count).Select(i => (long)i).ToArray();
        new Random((int)seed).Shuffle(order);
        using var train = all.Subset(order[..trainCount]);
        using var validation = all.Subset(order[trainCount..(trainCount + validationCount)]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"transfer: {data}, {trainCount} training images (seed {seed}), {validationCount} validation, {test.Count} test; model {pretrained.Model.Name} at {pretrained.Input.Size![0]}x{pretrained.Input.Size[1]}, {pretrained.Input.Channels} channels; {pretrained.Epochs} epochs of batch {pretrained.BatchSize}, {pretrained.Optimizer.Name} lr {pretrained.Optimizer.Lr}; torch threads {get_num_threads()}, load average {MachineLoad.Average()}"));

        var pretrainedAccuracy = FineTune("pretrained", pretrained, train, validation, test);
        var scratchAccuracy = FineTune("scratch", scratch, train, validation, test);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"minutes={clock.Elapsed.TotalMinutes:F1}, load average {MachineLoad.Average()}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"transfer pretrained={pretrainedAccuracy:F4} scratch={scratchAccuracy:F4}"));
        return 0;
    }

    // Trains the recipe's epochs and evaluates the last epoch's model on the test images.
    private static double FineTune(string name, Recipe recipe, TensorDataset train, TensorDataset validation, TensorDataset test)
    {
        var clock = Stopwatch.StartNew();
        var sink = new CallbackSink(onEpoch: r => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name} epoch {r.Epoch + 1}: train loss {r.TrainLoss:F4}, validation accuracy {r.Validation.Accuracy:F4} ({r.Elapsed.TotalSeconds:F0} s)")));
        using var trainer = new Trainer(recipe, train, validation, new TrainerOptions { Sinks = [sink] });
        trainer.Fit();
        var report = trainer.Evaluate(test);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: test accuracy {report.Accuracy:F4}, macro F1 {report.MacroF1:F4} on {report.Count} images; {clock.Elapsed.TotalMinutes:F1} min"));
        return report.Accuracy;
    }
}
