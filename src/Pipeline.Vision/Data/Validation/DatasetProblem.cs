namespace Pipeline.Vision.Data.Validation;

public enum ProblemKind
{
    /// <summary>Not a decodable JPEG/PNG, or corrupt data.</summary>
    UnreadableImage,
    /// <summary>The image data ends early.</summary>
    TruncatedImage,
    /// <summary>The header declares more pixels than the limit.</summary>
    DecompressionBomb,
    /// <summary>A box reaching outside its image.</summary>
    BoxOutsideImage,
    /// <summary>A box with no area (or non-finite coordinates).</summary>
    DegenerateBox,
    /// <summary>A label naming a class the dataset does not declare.</summary>
    UnknownClass,
    /// <summary>A label line or annotation record that cannot be parsed.</summary>
    MalformedLabel,
    /// <summary>A label file or annotation whose image is missing.</summary>
    LabelWithoutImage,
    /// <summary>The same content (hash) as an earlier file; the later one is the problem.</summary>
    DuplicateFile,
    /// <summary>An archive entry whose path leaves the archive's root, is absolute, or is a link.</summary>
    UnsafeArchiveEntry,
    /// <summary>A linked folder inside a dataset folder, not entered.</summary>
    LinkNotFollowed,
    /// <summary>A linked file (or a special file) of a dataset folder that leads outside the folder: not read.</summary>
    LinkOutsideDataset,
    /// <summary>No usable items at all.</summary>
    EmptyDataset,
    /// <summary>A classification dataset whose usable images are of fewer than two classes: nothing to tell apart.</summary>
    TooFewClasses,
}

/// <summary>One thing wrong with a dataset: its kind, the file it is in (as the source names it) and what is wrong.
/// <see cref="Item"/> is the path of the image item it disqualifies, if any.</summary>
public sealed record DatasetProblem(ProblemKind Kind, string File, string Message, string? Item = null)
{
    public override string ToString() => $"{File}: {Message}";
}
