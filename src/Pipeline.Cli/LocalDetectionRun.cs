using Pipeline.Training;
using Pipeline.Training.Distributed;
using System.Globalization;
using System.Text.Json;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Detection;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Plotting;

namespace Pipeline.Cli;

/// <summary>
/// One local detection run (<c>pipeline train DATASET --task detect</c>): loads the detect recipe and a detection dataset
/// in any detection format (COCO, PaliGemma JSONL, YOLO; recognised from its files), decodes its splits at the recipe's
/// input size (validation: the val split, or a seeded share of train; test: the test split, else validation), trains an
/// FCOS detector with progress on stderr, then evaluates the best model on the test split. The run folder gets
/// <c>recipe.json</c>, <c>results.csv</c>, <c>checkpoints/</c>, <c>best.safetensors</c>, <c>evaluation.json</c> (the
/// <see cref="DetectionReport"/>), <c>pr_curves.png</c> and <c>confusion_matrix.png</c> (with background; predictions
/// scoring at least 0.25).
/// </summary>
public sealed class LocalDetectionRun(LocalTrainingOptions options, TextWriter stdout, TextWriter stderr)
{
    public int Execute(CancellationToken cancellation)
    {
        var recipe = TaskRecipes.Load("detect", options.Config, options.Overrides);
        // Each rank trains on its machine's GPU LOCAL_RANK (NCCL between GPUs), or on the CPU (Gloo).
        using var parallel = options.Rank is { } rank ? new ProcessGroupParallel(rank, TrainingDevice.Resolve(recipe.Device, rank.LocalRank ?? rank.Rank)) : null;
        var primary = parallel is null || parallel.Rank == 0;
        using var source = LocalDatasets.Open(options.Dataset);
        // Validated as ingest validates: unknown classes, malformed labels and boxes outside their image refuse it.
        var dataset = LocalDatasets.LoadValidated(source, TaskKind.Detect, stderr);
        if (!dataset.InSplit(DatasetSplit.Train).Any() && dataset.HasSplits) throw new InvalidDataException($"{options.Dataset}: the {dataset.Format} dataset has no training split");
        Directory.CreateDirectory(options.Output);
        if (primary) AtomicFile.WriteAllText(Path.Combine(options.Output, LocalRunFolder.RecipeFile), RecipeWriter.ToJson(recipe));

        var (height, width) = (recipe.Input.Size![0], recipe.Input.Size[1]);
        // Validation: the val split, or a seeded share of train; test: the test split, else validation (none is carved here).
        using var splits = DetectionSplits.Decode(dataset, source, recipe, options.Dataset, carveTest: false);
        using var limitedTrain = Limit(splits.Train);
        var train = limitedTrain ?? splits.Train;
        var validation = splits.Validation;
        var testSource = splits.Test ?? validation;
        using var test = Limit(testSource);

        var sinks = new List<IDetectionTrainingSink> { new DetectionCsvResultsSink(Path.Combine(options.Output, LocalRunFolder.ResultsFile)), new DetectionConsoleSink(stderr) };
        var trainerOptions = new DetectionTrainerOptions
        {
            OutputDirectory = options.Output,
            Sinks = primary ? sinks : [],
            Parallel = (IDataParallel?)parallel ?? SingleProcess.Instance,
        };
        using var trainer = new DetectionTrainer(recipe, train, validation, trainerOptions);
        LocalRunFolder.ResumeIfAsked(trainer, options, primary ? stderr : null);
        var ranks = parallel is null ? "" : $" on {parallel.WorldSize} ranks (batch {recipe.BatchSize / parallel.WorldSize} each, {TorchSharp.torch.get_num_threads()} intra-op threads each)";
        if (primary)
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"training FCOS ({recipe.Model.Name}) on {train.Count} images with {train.BoxCount} boxes at {height}x{width} ({validation.Count} for validation), {trainer.TotalSteps} steps{ranks}, run folder {options.Output}"));

        var summary = trainer.Fit(cancellation);
        trainer.RestoreBestWeights();
        // Every rank holds the same best model; the primary alone evaluates the test set and writes.
        if (!primary) return summary.Reason == StopReason.Cancelled ? 130 : 0;
        var (report, loss) = trainer.Evaluate(test ?? testSource);
        AtomicFile.WriteAllText(Path.Combine(options.Output, LocalRunFolder.EvaluationFile), report.ToJson());
        var chart = Charts.PrecisionRecall(report, title: $"Precision-recall at IoU 0.50 ({report.Images} test images)");
        AtomicFile.Write(Path.Combine(options.Output, LocalRunFolder.PrCurvesFile), temp => File.WriteAllBytes(temp, chart.ToPng()));
        var confusion = Charts.ConfusionMatrix(report, string.Create(CultureInfo.InvariantCulture,
            $"Test confusion matrix (score >= {report.ConfusionThreshold:0.##}, IoU >= {DetectionEvaluator.ConfusionIou:0.##}; {report.Images} images)"));
        AtomicFile.Write(Path.Combine(options.Output, LocalRunFolder.ConfusionMatrixFile), temp => File.WriteAllBytes(temp, confusion.ToPng()));

        if (options.Json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(LocalRunFolder.Summary(new Dictionary<string, object?>
            {
                ["map"] = report.Map,
                ["map50"] = report.Map50,
                ["map75"] = report.Map75,
                ["ar"] = report.Ar,
                ["loss"] = loss,
                ["test_images"] = report.Images,
            }, summary.Reason, summary.Epochs, summary.Steps, summary.BestEpoch, summary.Elapsed, options.Output)));
        }
        else
        {
            foreach (var c in report.PerClass)
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Class,-16} AP {F(c.Ap)} AP50 {F(c.Ap50)}"));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"test mAP {F(report.Map)}, mAP@.5 {F(report.Map50)}, mAP@.75 {F(report.Map75)} on {report.Images} images; {summary.Reason} after {summary.Epochs} epochs in {summary.Elapsed.TotalSeconds:F0} s; run folder {options.Output}"));
        }
        return summary.Reason == StopReason.Cancelled ? 130 : 0;
    }

    private static long[] All(long count) => [.. Enumerable.Range(0, (int)count).Select(k => (long)k)];

    private DetectionTensorDataset? Limit(DetectionTensorDataset dataset) =>
        options.Limit is { } n && n < dataset.Count ? dataset.Subset(All(n)) : null;

    private static string F(double? value) => value is { } v ? v.ToString("F4", CultureInfo.InvariantCulture) : "n/a";
}
