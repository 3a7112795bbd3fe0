namespace Pipeline.Vision.Data.Validation;

public enum ProblemAction
{
    /// <summary>The whole dataset is refused.</summary>
    Fail,
    /// <summary>The item it concerns is left out, and listed in the report.</summary>
    Skip,
}

/// <summary>What to do about each kind of problem. By default unsafe input (bombs, escaping archive entries or links), an
/// empty dataset and a classification dataset of one class fail it; damaged or mislabelled items are skipped and listed.</summary>
public sealed class ProblemPolicy
{
    private readonly Dictionary<ProblemKind, ProblemAction> _actions;

    private ProblemPolicy(Dictionary<ProblemKind, ProblemAction> actions) => _actions = actions;

    public static ProblemPolicy Default { get; } = new(new()
    {
        [ProblemKind.DecompressionBomb] = ProblemAction.Fail,
        [ProblemKind.UnsafeArchiveEntry] = ProblemAction.Fail,
        [ProblemKind.LinkOutsideDataset] = ProblemAction.Fail,
        [ProblemKind.EmptyDataset] = ProblemAction.Fail,
        [ProblemKind.TooFewClasses] = ProblemAction.Fail,
    });

    /// <summary>For runs nobody can be asked about (the services): labels that do not fit the classes or the image fail
    /// the dataset, as training on them would be wrong (a box beyond its image means the annotations do not belong to
    /// these images); damaged images are still skipped and listed.</summary>
    public static ProblemPolicy Unattended { get; } = Default
        .With(ProblemKind.UnknownClass, ProblemAction.Fail)
        .With(ProblemKind.MalformedLabel, ProblemAction.Fail)
        .With(ProblemKind.BoxOutsideImage, ProblemAction.Fail);

    /// <summary>Every problem fails the dataset.</summary>
    public static ProblemPolicy Strict { get; } = new(Enum.GetValues<ProblemKind>().ToDictionary(k => k, _ => ProblemAction.Fail));

    public ProblemAction For(ProblemKind kind) => _actions.TryGetValue(kind, out var action) ? action : ProblemAction.Skip;

    public ProblemPolicy With(ProblemKind kind, ProblemAction action) => new(new(_actions) { [kind] = action });
}
