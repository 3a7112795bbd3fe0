using System.Globalization;
using Pipeline.Artifacts;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;
using Pipeline.Training;
using Pipeline.Training.Detection;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Plotting;

namespace Pipeline.Evaluator;

/// <summary>One model's evaluation on one split: a classifier's report, or a detector's (with its mean loss), and the job
/// recipe's early-stopping rule it was judged by.</summary>
public sealed record ModelEvaluation(ClassificationReport? Classification, DetectionReport? Detection, double? DetectionLoss, EarlyStoppingRecipe EarlyStopping)
{
    public const string ConfusionMatrixPicture = "confusion_matrix.png";
    public const string PrCurvesPicture = "pr_curves.png";

    /// <summary>The report as stored in <c>reports/</c>.</summary>
    public string ToJson() => Classification?.ToJson() ?? Detection!.ToJson();

    /// <summary>The metrics a job records: accuracy, F1s, loss and top-k for a classifier; map50, map, map75, ar and loss for a detector.</summary>
    public Dictionary<string, double> Metrics()
    {
        var metrics = new Dictionary<string, double>();
        if (Classification is { } c)
        {
            metrics["accuracy"] = c.Accuracy;
            metrics["macro_f1"] = c.MacroF1;
            metrics["weighted_f1"] = c.WeightedF1;
            if (c.Loss is { } loss) metrics["loss"] = loss;
            if (c.MeanAp is { } meanAp) metrics["mean_ap"] = meanAp;
            foreach (var (k, v) in c.TopK) metrics[$"top{k}"] = v;
            return metrics;
        }
        var d = Detection!;
        // A report without ground truth has no mAP: such metrics are left out rather than made up.
        if (d.Map50 is { } map50) metrics["map50"] = map50;
        if (d.Map is { } map) metrics["map"] = map;
        if (d.Map75 is { } map75) metrics["map75"] = map75;
        if (d.Ar is { } ar) metrics["ar"] = ar;
        if (DetectionLoss is { } detectionLoss && double.IsFinite(detectionLoss)) metrics["loss"] = detectionLoss;
        return metrics;
    }

    /// <summary>The test report's pictures: the confusion matrix (a detector's with a background row and column) and the
    /// precision-recall curves (a classifier's one-vs-rest, a detector's at IoU .5).</summary>
    public IEnumerable<(string Name, byte[] Png)> Pictures()
    {
        if (Classification is { } c)
        {
            yield return (ConfusionMatrixPicture, Charts.ConfusionMatrix(c.ConfusionMatrix, c.Classes, $"Test confusion matrix ({c.Count} images)").ToPng());
            if (c.MeanAp is not null)
                yield return (PrCurvesPicture, Charts.PrecisionRecall(c, title: $"Test precision-recall, one vs rest ({c.Count} images)").ToPng());
            yield break;
        }
        var d = Detection!;
        yield return (ConfusionMatrixPicture, Charts.ConfusionMatrix(d).ToPng());
        yield return (PrCurvesPicture, Charts.PrecisionRecall(d, title: $"Precision-recall at IoU 0.50 ({d.Images} test images)").ToPng());
    }

    /// <summary>One line for the log.</summary>
    public string Summary() => Classification is { } c
        ? string.Create(CultureInfo.InvariantCulture, $"accuracy {c.Accuracy:P2} on {c.Count} images")
        : string.Create(CultureInfo.InvariantCulture, $"mAP@.5 {Detection!.Map50:F4}, mAP {Detection.Map:F4} on {Detection.Images} images");
}

/// <summary>Evaluates a stored model file of a job on one of its prepared splits, as the job's task and recipe say.</summary>
public sealed class ModelEvaluator(JobArtifacts artifacts)
{
    // Evaluation uses every core; one at a time per replica.
    private readonly SemaphoreSlim gate = new(1, 1);

    public async Task<ModelEvaluation> EvaluateAsync(Guid job, string modelBlob, string split, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var weights = Path.GetTempFileName();
        try
        {
            var info = await artifacts.ReadJobInfoAsync(job, cancellationToken).ConfigureAwait(false);
            var recipe = TaskRecipes.LoadText(info.Task, info.RecipeYaml, "recipe.yaml");
            await artifacts.DownloadAsync(modelBlob, weights, cancellationToken).ConfigureAwait(false);
            var device = TrainingDevice.Resolve(recipe.Device);
            if (recipe.Task == TaskKind.Detect)
            {
                using var boxes = await artifacts.ReadDetectionShardAsync(info.PreparedPrefix, split, cancellationToken).ConfigureAwait(false);
                return await Task.Run(() =>
                {
                    var channels = boxes.Images.shape[1];
                    using var model = DetectionEvaluation.LoadModel(recipe, boxes.Classes.Count, channels, weights, device);
                    using var batcher = new DetectionBatcher(recipe.Input, channels, device);
                    var (report, loss) = DetectionEvaluation.Evaluate(recipe, model, batcher, boxes, device);
                    return new ModelEvaluation(null, report, loss, recipe.EarlyStopping);
                }, cancellationToken).ConfigureAwait(false);
            }
            using var data = await artifacts.ReadShardAsync(info.PreparedPrefix, split, cancellationToken).ConfigureAwait(false);
            return await Task.Run(() =>
            {
                using var model = ClassifierEvaluation.LoadModel(recipe, data, weights, device);
                return new ModelEvaluation(ClassifierEvaluation.Evaluate(recipe, model, data, device), null, null, recipe.EarlyStopping);
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(weights);
            gate.Release();
        }
    }
}
