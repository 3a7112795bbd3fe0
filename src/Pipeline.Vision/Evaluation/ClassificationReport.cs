using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Vision.Evaluation;

/// <summary>
/// One class's row of a classification report. Where the evaluator had scores (logits), also its one-vs-rest
/// precision-recall figures (<see cref="ScoreHistograms.Curve"/>): <paramref name="Ap"/> (scikit-learn's average
/// precision on the binned scores), <paramref name="PrecisionAtRecall"/> (interpolated precision at the report's
/// <see cref="ClassificationReport.RecallThresholds"/>) and the F1-optimal score threshold; null otherwise, and for a
/// class without items.
/// </summary>
public sealed record ClassMetrics(string Class, double Precision, double Recall, double F1, long Support,
    double? Ap = null, IReadOnlyList<double>? PrecisionAtRecall = null, BestF1? BestF1 = null);

/// <summary>
/// The figures of a classification evaluation: accuracy, top-k accuracies, per-class precision/recall/F1/support,
/// macro and support-weighted averages, the confusion matrix (rows = truth) and, when scores were given, one-vs-rest
/// PR curves per class with their AP and mean AP. Serialises to JSON with snake_case keys; the PR figures are left out
/// of the JSON when absent (and reports written before they existed still read).
/// </summary>
public sealed record ClassificationReport
{
    public required long Count { get; init; }
    public required double Accuracy { get; init; }
    /// <summary>Top-k accuracy by k (k = 1 equals <see cref="Accuracy"/>); only the ks asked for.</summary>
    public required IReadOnlyDictionary<int, double> TopK { get; init; }
    public required double MacroPrecision { get; init; }
    public required double MacroRecall { get; init; }
    public required double MacroF1 { get; init; }
    public required double WeightedF1 { get; init; }
    /// <summary>Mean loss over the items, when the evaluator was given losses.</summary>
    public double? Loss { get; init; }
    public required IReadOnlyList<ClassMetrics> PerClass { get; init; }
    public required IReadOnlyList<string> Classes { get; init; }
    /// <summary>Rows are true classes, columns predicted classes.</summary>
    public required long[][] ConfusionMatrix { get; init; }
    /// <summary>Mean of the per-class AP over the classes with items; null without scores.</summary>
    public double? MeanAp { get; init; }
    /// <summary>The recall points of every class's <see cref="ClassMetrics.PrecisionAtRecall"/>; null without scores.</summary>
    public IReadOnlyList<double>? RecallThresholds { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ClassificationReport FromJson(string json) =>
        JsonSerializer.Deserialize<ClassificationReport>(json, Json) ?? throw new JsonException("empty classification report");

    /// <summary>
    /// The report of a confusion matrix (and optional top-k hit counts and score histograms). A class that is never
    /// predicted has precision 0 and one that never occurs has recall 0, as scikit-learn's <c>zero_division=0</c>; F1 is 0
    /// where both are 0. Empty (or no) histograms give no PR figures.
    /// </summary>
    public static ClassificationReport From(ConfusionMatrix matrix, IReadOnlyList<string> classes,
        IReadOnlyDictionary<int, long>? topKHits = null, double? loss = null, ScoreHistograms? scores = null)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(classes);
        if (classes.Count != matrix.Classes) throw new ArgumentException($"{classes.Count} class names for a {matrix.Classes}-class matrix", nameof(classes));
        if (scores is not null && scores.Classes != matrix.Classes) throw new ArgumentException($"score histograms of {scores.Classes} classes for a {matrix.Classes}-class matrix", nameof(scores));
        var scored = scores is not null && !scores.IsEmpty;
        var total = matrix.Total;
        var perClass = new List<ClassMetrics>(matrix.Classes);
        for (var c = 0; c < matrix.Classes; c++)
        {
            double tp = matrix[c, c];
            var predicted = matrix.Predicted(c);
            var support = matrix.Support(c);
            var precision = predicted == 0 ? 0 : tp / predicted;
            var recall = support == 0 ? 0 : tp / support;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            var curve = scored ? scores!.Curve(c) : null;
            perClass.Add(new ClassMetrics(classes[c], precision, recall, f1, support, curve?.Ap, curve?.PrecisionAtRecall, curve?.BestF1));
        }
        var accuracy = total == 0 ? 0 : (double)matrix.Correct() / total;
        var topK = new SortedDictionary<int, double>();
        if (topKHits is not null)
            foreach (var (k, hits) in topKHits) topK[k] = total == 0 ? 0 : (double)hits / total;
        return new ClassificationReport
        {
            Count = total,
            Accuracy = accuracy,
            TopK = topK,
            MacroPrecision = perClass.Average(m => m.Precision),
            MacroRecall = perClass.Average(m => m.Recall),
            MacroF1 = perClass.Average(m => m.F1),
            WeightedF1 = total == 0 ? 0 : perClass.Sum(m => m.F1 * m.Support) / total,
            Loss = loss,
            PerClass = perClass,
            Classes = [.. classes],
            ConfusionMatrix = matrix.ToRows(),
            MeanAp = scored && perClass.Any(m => m.Ap is not null) ? perClass.Where(m => m.Ap is not null).Average(m => m.Ap!.Value) : null,
            RecallThresholds = scored ? PrecisionRecallCurve.RecallPoints : null,
        };
    }

    /// <summary>The report of predicted against true labels.</summary>
    public static ClassificationReport From(ReadOnlySpan<long> truth, ReadOnlySpan<long> predicted, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(classes);
        var matrix = new ConfusionMatrix(classes.Count);
        matrix.Add(truth, predicted);
        return From(matrix, classes);
    }
}
