using Pipeline.Vision.Data.Sources;

namespace Pipeline.Vision.Data.Validation;

/// <summary>A dataset refused by validation; the message names the failing files and their problems.</summary>
public sealed class DatasetRefusedException : Exception
{
    public DatasetRefusedException(string message) : base(message) { }
    public DatasetRefusedException(string message, Exception innerException) : base(message, innerException) { }
    public DatasetRefusedException() { }
}

/// <summary>
/// How every part of the system reads a submitted dataset: the loader (any format, named or recognised), then the
/// validator under the unattended policy. Ingest and <c>pipeline train</c> both come through here, so a dataset is
/// refused with the same message wherever it is trained.
/// </summary>
public static class DatasetIntake
{
    /// <summary>How many failing problems a refusal names (the report lists them all).</summary>
    public const int ProblemsNamed = 5;

    /// <summary>Loads and validates <paramref name="source"/>; throws <see cref="DatasetRefusedException"/> when a problem
    /// fails it, and the loader's exceptions (<see cref="Formats.DatasetFormatException"/>) when it cannot be read at all.</summary>
    /// <param name="task">The task it is to be trained for; null: whatever its format implies.</param>
    public static ValidatedDataset LoadValidated(IFileSource source, string? format = null, TaskKind? task = null, DatasetValidator? validator = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var load = DatasetLoader.Load(source, format);
        if (task is { } asked && load.Dataset.Task != asked)
            throw new Formats.DatasetFormatException($"{source.Name}: a {load.Dataset.Format} {Name(load.Dataset.Task)} dataset, not a {(asked == TaskKind.Detect ? "detection" : "classification")} one (train it with --task {Name(load.Dataset.Task)})");
        var validated = (validator ?? new DatasetValidator { Policy = ProblemPolicy.Unattended }).Validate(source, load);
        if (validated.Report.Failed) throw new DatasetRefusedException(RefusalMessage(validated.Report));
        return validated;
    }

    private static string Name(TaskKind task) => task.ToString().ToLowerInvariant();

    /// <summary>"dataset refused: FILE: PROBLEM; ..." naming the first <see cref="ProblemsNamed"/> failing problems.</summary>
    public static string RefusalMessage(ValidationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var failing = report.Problems.Where(p => p.Action == ProblemAction.Fail).ToList();
        var named = string.Join("; ", failing.Take(ProblemsNamed).Select(p => $"{p.File}: {p.Message}"));
        var more = failing.Count > ProblemsNamed ? $" (and {failing.Count - ProblemsNamed} more)" : "";
        return $"dataset refused: {named}{more}";
    }
}
