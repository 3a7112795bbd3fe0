namespace Pipeline.Vision.Data;

public enum TaskKind { Classify, Detect }

public enum DatasetSplit { Unassigned, Train, Val, Test }

/// <summary>An object's box in absolute pixels of the upright image (x1, y1) top-left to (x2, y2) bottom-right, with its class
/// index. <paramref name="IsCrowd"/>: a COCO crowd region (<c>iscrowd: 1</c>), many objects under one box: not a training
/// target, and in evaluation a region whose detections count neither for nor against the model.</summary>
public readonly record struct BoundingBox(double X1, double Y1, double X2, double Y2, int ClassId, bool IsCrowd = false)
{
    public double Width => X2 - X1;
    public double Height => Y2 - Y1;
    public bool IsDegenerate => !(Width > 0 && Height > 0) || !double.IsFinite(X1 + Y1 + X2 + Y2);
}

/// <summary>
/// One image of a dataset: either a file of the source (<see cref="Path"/> relative to it, '/'-separated) or pixels
/// held inline (IDX sets), with a class label (classify) or boxes (detect), its split, the size the annotation
/// declares if any, and where its label came from, for error messages.
/// </summary>
public sealed record DatasetItem
{
    public required string Path { get; init; }
    public Imaging.ImageBuffer? Pixels { get; init; }
    public int? Label { get; init; }
    public IReadOnlyList<BoundingBox> Boxes { get; init; } = [];
    public DatasetSplit Split { get; init; }
    /// <summary>Width and height of the upright image: declared by the format or read from the image header.</summary>
    public (int Width, int Height)? Size { get; init; }
    /// <summary>Where the label or boxes were read: a label file, an annotation file and image id, a JSONL line.</summary>
    public string? Origin { get; init; }
}

/// <summary>A dataset in memory, whatever format it came in: the task, class names (index = class id) and items.</summary>
public sealed class Dataset
{
    public Dataset(TaskKind task, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> items, string format, string source)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(items);
        Task = task;
        Classes = classes;
        Items = items;
        Format = format;
        Source = source;
    }

    public TaskKind Task { get; }
    public IReadOnlyList<string> Classes { get; }
    public IReadOnlyList<DatasetItem> Items { get; }
    /// <summary>The format it was read from ("imagefolder", "coco", "yolo", "paligemma", "idx").</summary>
    public string Format { get; }
    /// <summary>The folder or archive it was read from.</summary>
    public string Source { get; }

    public bool HasSplits => Items.Any(i => i.Split != DatasetSplit.Unassigned);

    public Dataset WithItems(IReadOnlyList<DatasetItem> items) => new(Task, Classes, items, Format, Source);

    public IEnumerable<DatasetItem> InSplit(DatasetSplit split) => Items.Where(i => i.Split == split);
}
