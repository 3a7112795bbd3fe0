using System.Globalization;
using System.Text.Json;
using Pipeline.Training;
using Pipeline.Training.Checkpoints;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;
using Pipeline.Training.Data;
using Pipeline.Training.Distributed;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Plotting;
using Spectre.Console;

namespace Pipeline.Cli;

/// <summary>What <c>pipeline train</c> was asked to do.</summary>
/// <param name="Rank">Set when this process is one rank of a data-parallel run (null: the only process).</param>
public sealed record LocalTrainingOptions(string Dataset, string? Config, IReadOnlyList<string> Overrides, string Output, int? Limit, bool Resume, bool Json,
    DistributedSettings? Rank = null);

/// <summary>
/// One local training run: loads the recipe and the dataset (IDX: train split less a seeded validation share, t10k as the
/// test set; any other classification dataset, folder or archive: validated as ingest does and split as preprocess does),
/// trains with progress on the terminal, then evaluates the best model on the test set. The run folder gets
/// <c>recipe.json</c> (resolved), <c>results.csv</c>, <c>checkpoints/</c>, <c>best.safetensors</c>, <c>evaluation.json</c>,
/// and the pictures <c>confusion_matrix.png</c> and <c>pr_curves.png</c> (test set; one-vs-rest per class) and
/// <c>training_curves.png</c> (from results.csv).
/// As one rank of a data-parallel run it trains and evaluates its share; only rank 0 writes and reports.
/// </summary>
public sealed class LocalTrainingRun(LocalTrainingOptions options, TextWriter stdout, TextWriter stderr)
{
    public int Execute(CancellationToken cancellation)
    {
        var recipe = TaskRecipes.Load("classify", options.Config, options.Overrides);
        using var sets = LoadSets(recipe);
        // Each rank trains on its machine's GPU LOCAL_RANK (NCCL between GPUs), or on the CPU (Gloo).
        using var parallel = options.Rank is { } rank ? new ProcessGroupParallel(rank, TrainingDevice.Resolve(recipe.Device, rank.LocalRank ?? rank.Rank)) : null;
        var primary = parallel is null || parallel.Rank == 0;
        Directory.CreateDirectory(options.Output);
        if (primary) AtomicFile.WriteAllText(Path.Combine(options.Output, LocalRunFolder.RecipeFile), RecipeWriter.ToJson(recipe));

        var (train, validation, test) = (sets.Train, sets.Validation, sets.Test);

        var sinks = new List<ITrainingSink>();
        if (primary) sinks.Add(new CsvResultsSink(Path.Combine(options.Output, LocalRunFolder.ResultsFile)));
        var interactive = primary && !options.Json && ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        if (!interactive) sinks.Add(new ConsoleSink(stderr));
        var trainerOptions = new TrainerOptions { OutputDirectory = options.Output, Sinks = sinks, Parallel = (IDataParallel?)parallel ?? SingleProcess.Instance };
        using var trainer = new Trainer(recipe, train, validation, trainerOptions);
        LocalRunFolder.ResumeIfAsked(trainer, options, primary ? stderr : null);
        var ranks = parallel is null ? "" : $" on {parallel.WorldSize} ranks (batch {recipe.BatchSize / parallel.WorldSize} each, {torch.get_num_threads()} intra-op threads each)";
        if (primary) stderr.WriteLine($"training {recipe.Model.Name} on {train.Count} images ({validation.Count} for validation), {trainer.TotalSteps} steps{ranks}, run folder {options.Output}");

        var summary = interactive ? FitWithProgressBar(trainer, sinks, cancellation) : trainer.Fit(cancellation);
        trainer.RestoreBestWeights();
        var report = trainer.Evaluate(test);
        if (!primary) return summary.Reason == StopReason.Cancelled ? 130 : 0;
        AtomicFile.WriteAllText(Path.Combine(options.Output, LocalRunFolder.EvaluationFile), report.ToJson());
        var confusion = Charts.ConfusionMatrix(report.ConfusionMatrix, report.Classes, $"Test confusion matrix ({report.Count} images)");
        AtomicFile.Write(Path.Combine(options.Output, LocalRunFolder.ConfusionMatrixFile), temp => File.WriteAllBytes(temp, confusion.ToPng()));
        var precisionRecall = Charts.PrecisionRecall(report, title: $"Test precision-recall, one vs rest ({report.Count} images)");
        AtomicFile.Write(Path.Combine(options.Output, LocalRunFolder.PrCurvesFile), temp => File.WriteAllBytes(temp, precisionRecall.ToPng()));
        // A run stopped inside its first epoch has no epoch to draw yet.
        var results = Path.Combine(options.Output, LocalRunFolder.ResultsFile);
        if (File.Exists(results) && ResultsCsv.Read(results)["epoch"].Length > 0)
        {
            var curves = ResultsCsv.Chart(results, $"{recipe.Model.Name}: {LocalRunFolder.ResultsFile}");
            AtomicFile.Write(Path.Combine(options.Output, LocalRunFolder.TrainingCurvesFile), temp => File.WriteAllBytes(temp, curves.ToPng()));
        }

        if (options.Json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(LocalRunFolder.Summary(new Dictionary<string, object?>
            {
                ["accuracy"] = report.Accuracy,
                ["top5"] = report.TopK.GetValueOrDefault(5),
                ["macro_f1"] = report.MacroF1,
                ["loss"] = report.Loss,
                ["test_images"] = report.Count,
            }, summary.Reason, summary.Epochs, summary.Steps, summary.BestEpoch, summary.Elapsed, options.Output)));
        }
        else WriteReport(report, summary);
        return summary.Reason == StopReason.Cancelled ? 130 : 0;
    }

    private TensorDataset? Limit(TensorDataset dataset) =>
        options.Limit is { } n && n < dataset.Count ? dataset.Subset([.. Enumerable.Range(0, n).Select(k => (long)k)]) : null;

    /// <summary>The train, validation and test sets, and everything to dispose with them.</summary>
    private sealed class Sets(TensorDataset train, TensorDataset validation, TensorDataset test, IEnumerable<IDisposable?> owned) : IDisposable
    {
        public TensorDataset Train { get; } = train;
        public TensorDataset Validation { get; } = validation;
        public TensorDataset Test { get; } = test;

        public void Dispose()
        {
            foreach (var item in owned) item?.Dispose();
        }
    }

    /// <summary>
    /// An IDX folder: its train file less a seeded validation share, t10k as the test set (the fast path). Any other
    /// dataset (ImageFolder, or a classification set in another format; a folder or an archive) is loaded and validated as
    /// ingest does it and split and decoded as preprocess does it (<see cref="ClassificationSplits"/>). --limit cuts the
    /// training and test sets.
    /// </summary>
    private Sets LoadSets(Recipe recipe)
    {
        if (LocalDatasets.IsIdx(options.Dataset))
        {
            var fullTrain = FashionMnist.Load(options.Dataset, "train");
            var fullTest = FashionMnist.Load(options.Dataset, "t10k");
            var limitedTrain = Limit(fullTrain);
            var limitedTest = Limit(fullTest);
            var (train, validation) = (limitedTrain ?? fullTrain).StratifiedSplit(recipe.Data.ValidationFraction, unchecked((int)recipe.Seed));
            return new Sets(train, validation, limitedTest ?? fullTest, [train, validation, limitedTrain, limitedTest, fullTrain, fullTest]);
        }
        using var source = LocalDatasets.Open(options.Dataset);
        var primary = options.Rank is null || options.Rank.Rank == 0;
        var dataset = LocalDatasets.LoadValidated(source, TaskKind.Classify, primary ? stderr : null);
        var splits = ClassificationSplits.Decode(dataset, source, recipe, source.Name, carveTest: true);
        var limitedSplitTrain = Limit(splits.Train);
        var limitedSplitTest = Limit(splits.Test!);
        return new Sets(limitedSplitTrain ?? splits.Train, splits.Validation, limitedSplitTest ?? splits.Test!, [limitedSplitTrain, limitedSplitTest, splits]);
    }

    private static TrainingSummary FitWithProgressBar(Trainer trainer, List<ITrainingSink> sinks, CancellationToken cancellation)
    {
        TrainingSummary? summary = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var bar = context.AddTask("training", maxValue: trainer.TotalSteps);
                bar.Value = trainer.State.Step;
                sinks.Add(new CallbackSink(
                    onStep: p =>
                    {
                        bar.Value = p.Step;
                        bar.Description = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch + 1} loss {p.Loss:F3} lr {p.Lr:G3} {p.SamplesPerSecond:F0} img/s");
                    },
                    onEpoch: r => AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture,
                        $"epoch {r.Epoch + 1}: train loss {r.TrainLoss:F4}, val accuracy {r.Validation.Accuracy:P2}{(r.IsBest ? " [green](best)[/]" : "")}")));
                summary = trainer.Fit(cancellation);
                bar.Value = bar.MaxValue;
            });
        return summary!;
    }

    private void WriteReport(Vision.Evaluation.ClassificationReport report, TrainingSummary summary)
    {
        var table = new Table().AddColumns("class", "precision", "recall", "f1", "support");
        foreach (var c in report.PerClass)
            table.AddRow(Markup.Escape(c.Class), F(c.Precision), F(c.Recall), F(c.F1), c.Support.ToString(CultureInfo.InvariantCulture));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });
        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"test accuracy {report.Accuracy:P2} (top-5 {report.TopK.GetValueOrDefault(5):P2}), macro F1 {report.MacroF1:F4}; {summary.Reason} after {summary.Epochs} epochs in {summary.Elapsed.TotalSeconds:F0} s; run folder {options.Output}"));
    }

    private static string F(double value) => value.ToString("F4", CultureInfo.InvariantCulture);
}
