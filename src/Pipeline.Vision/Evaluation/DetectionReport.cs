using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Vision.Evaluation;

/// <summary>The confidence threshold at which a class's F1 (IoU .5) is highest, with the precision and recall there.</summary>
public sealed record BestF1(double Threshold, double F1, double Precision, double Recall);

/// <summary>
/// One class's detection figures. Classes without (non-crowd) ground truth have only counts: COCO leaves them out of
/// every mean. <see cref="PrecisionAt50"/> is the interpolated precision at each of COCO's 101 recall points at IoU .5.
/// </summary>
public sealed record DetectionClassMetrics(
    string Class,
    int GroundTruths,
    int Detections,
    double? Ap,
    double? Ap50,
    double? Ap75,
    double? Ar,
    IReadOnlyList<double>? PrecisionAt50,
    BestF1? BestF1);

/// <summary>
/// The figures of a COCO-style box detection evaluation: mAP over IoU .50:.95, at .50 and .75, AR at
/// <see cref="MaxDetections"/> detections per image (COCO's AR@100 by default), and per class the same with a PR
/// curve and an F1-optimal threshold. Means are over the classes that have ground truth; null when none has.
/// Also a confusion matrix at a score threshold (<see cref="DetectionEvaluator.ConfusionThreshold"/>).
/// Serialises to JSON with snake_case keys; reports written before the confusion matrix existed still read (null).
/// </summary>
public sealed record DetectionReport
{
    public required int Images { get; init; }
    public double? Map { get; init; }
    public double? Map50 { get; init; }
    public double? Map75 { get; init; }
    public double? Ar { get; init; }
    public required int MaxDetections { get; init; }
    public required int ClassesEvaluated { get; init; }
    public required IReadOnlyList<double> IouThresholds { get; init; }
    /// <summary>The recall points of every class's <see cref="DetectionClassMetrics.PrecisionAt50"/>.</summary>
    public required IReadOnlyList<double> RecallThresholds { get; init; }
    public required IReadOnlyList<DetectionClassMetrics> PerClass { get; init; }
    public required IReadOnlyList<string> Classes { get; init; }
    /// <summary>
    /// Rows are true classes, columns predicted classes, each in <see cref="Classes"/> order with background last
    /// ((classes + 1) square): a missed box counts in the background column, a false detection in the background row.
    /// </summary>
    public long[][]? ConfusionMatrix { get; init; }
    /// <summary>The score a prediction needed to count in <see cref="ConfusionMatrix"/>.</summary>
    public double? ConfusionThreshold { get; init; }

    /// <summary>The row and column names of <see cref="ConfusionMatrix"/>: the classes, then <see cref="Background"/>.</summary>
    public IReadOnlyList<string> ConfusionClasses() => [.. Classes, Background];

    public const string Background = "background";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static DetectionReport FromJson(string json) =>
        JsonSerializer.Deserialize<DetectionReport>(json, Json) ?? throw new JsonException("empty detection report");
}
