using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Vision.Data.Validation;

/// <summary>Image counts of one split: images, and per class the images (classify) or boxes (detect).</summary>
public sealed record SplitCounts(DatasetSplit Split, int Images, IReadOnlyList<long> PerClass);

/// <summary>A problem with the action taken for it.</summary>
public sealed record ReportedProblem(ProblemKind Kind, ProblemAction Action, string File, string Message, string? Item);

/// <summary>
/// What validating a dataset found: counts per split and class, the class histogram and its long-tail ratio, the range
/// of image sizes, and every problem with the action taken. <see cref="Failed"/> when any problem's policy is Fail.
/// </summary>
public sealed record ValidationReport
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public required string Source { get; init; }
    public required string Format { get; init; }
    public required TaskKind Task { get; init; }
    public required IReadOnlyList<string> Classes { get; init; }
    public required int ItemsKept { get; init; }
    public required int ItemsSkipped { get; init; }
    public required IReadOnlyList<SplitCounts> Splits { get; init; }
    /// <summary>Per class over all splits: images (classify) or boxes (detect; crowd regions not counted).</summary>
    public required IReadOnlyList<long> ClassHistogram { get; init; }
    /// <summary>Largest over smallest class count; null when a class has none (then it is infinite).</summary>
    public double? LongTailRatio { get; init; }
    public int? MinWidth { get; init; }
    public int? MinHeight { get; init; }
    public int? MaxWidth { get; init; }
    public int? MaxHeight { get; init; }
    public required IReadOnlyList<ReportedProblem> Problems { get; init; }
    public bool Failed => Problems.Any(p => p.Action == ProblemAction.Fail);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The report for people (the CLI's output).</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"Dataset {Source} ({Format}, {Task.ToString().ToLowerInvariant()}): {Classes.Count} classes, {ItemsKept} images kept, {ItemsSkipped} skipped");
        text.AppendLine(Failed ? "Result: FAILED (see the problems marked fail)" : "Result: usable");
        var unit = Task == TaskKind.Detect ? "boxes" : "images";
        var width = Math.Max(8, Classes.Select(n => n.Length).DefaultIfEmpty(0).Max() + 2);
        text.Append(c, $"{"split",-8}{"images",8}").AppendJoin("", Classes.Select(n => n.PadLeft(width))).AppendLine();
        foreach (var split in Splits)
            text.Append(c, $"{split.Split.ToString().ToLowerInvariant(),-8}{split.Images,8}").AppendJoin("", split.PerClass.Select(n => n.ToString(c).PadLeft(width))).AppendLine();
        text.AppendLine(c, $"Class histogram ({unit}): {string.Join(", ", Classes.Select((n, k) => $"{n} {ClassHistogram[k]}"))}");
        text.AppendLine(LongTailRatio is { } ratio
            ? string.Create(c, $"Long-tail ratio (largest/smallest class): {ratio:0.##}")
            : "Long-tail ratio: infinite (a class has no " + unit + ")");
        if (MinWidth is not null)
            text.AppendLine(c, $"Image sizes: {MinWidth}x{MinHeight} to {MaxWidth}x{MaxHeight} (min and max width x height)");
        text.AppendLine(c, $"Problems: {Problems.Count}");
        foreach (var p in Problems)
            text.AppendLine(c, $"  [{p.Action.ToString().ToLowerInvariant()}] {Describe(p.Kind)}: {p.File}: {p.Message}");
        return text.ToString();
    }

    private static string Describe(ProblemKind kind) => kind switch
    {
        ProblemKind.UnreadableImage => "unreadable image",
        ProblemKind.TruncatedImage => "truncated image",
        ProblemKind.DecompressionBomb => "decompression bomb",
        ProblemKind.BoxOutsideImage => "box outside the image",
        ProblemKind.DegenerateBox => "degenerate box",
        ProblemKind.UnknownClass => "unknown class",
        ProblemKind.MalformedLabel => "malformed label",
        ProblemKind.LabelWithoutImage => "label without image",
        ProblemKind.DuplicateFile => "duplicate file",
        ProblemKind.UnsafeArchiveEntry => "unsafe archive entry",
        ProblemKind.LinkNotFollowed => "linked folder",
        ProblemKind.LinkOutsideDataset => "link leaving the dataset",
        ProblemKind.EmptyDataset => "empty dataset",
        ProblemKind.TooFewClasses => "too few classes",
        _ => kind.ToString(),
    };
}
