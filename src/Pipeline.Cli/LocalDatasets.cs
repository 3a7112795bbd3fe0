using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Cli;

/// <summary>
/// How <c>pipeline train</c> reads a dataset: through the same loader and validator as the services' ingest
/// (<see cref="DatasetIntake"/>), so any format they take trains locally and a dataset they refuse is refused here with
/// the same message. An IDX folder (Fashion-MNIST) keeps its fast path: <see cref="FashionMnist.Load"/> reads it straight
/// into tensors, with the same checks as its loader.
/// </summary>
public static class LocalDatasets
{
    /// <summary>True when <paramref name="path"/> is an IDX folder, trained through <see cref="FashionMnist.Load"/>.</summary>
    public static bool IsIdx(string path) => Directory.Exists(path) && FashionMnist.IsIdxFolder(path);

    /// <summary>The folder or archive (.zip, .tar, .tar.gz, .tgz) at <paramref name="path"/>.</summary>
    public static IFileSource Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Directory.Exists(path) && !File.Exists(path)) throw new FileNotFoundException($"{path}: no such dataset folder or archive");
        return FileSources.Open(path);
    }

    /// <summary>Loads and validates the dataset for <paramref name="task"/>; throws naming the file and the problem when it
    /// cannot be trained. Items left out (damaged images) are listed on <paramref name="log"/>.</summary>
    public static Dataset LoadValidated(IFileSource source, TaskKind task, TextWriter? log)
    {
        ArgumentNullException.ThrowIfNull(source);
        var validated = DatasetIntake.LoadValidated(source, task: task);
        var skipped = validated.Report.Problems.Where(p => p.Action == ProblemAction.Skip).ToList();
        if (log is not null && skipped.Count > 0)
        {
            log.WriteLine($"dataset {source.Name}: {skipped.Count} problems, those items left out:");
            foreach (var p in skipped.Take(10)) log.WriteLine($"  {p.File}: {p.Message}");
            if (skipped.Count > 10) log.WriteLine($"  (and {skipped.Count - 10} more)");
        }
        return validated.Dataset;
    }

    /// <summary>The whole check of a dataset, before a data-parallel run starts any rank: a dataset that cannot be trained
    /// fails once, here, rather than in every rank.</summary>
    public static void Check(string path, TaskKind task)
    {
        using var source = Open(path);
        LoadValidated(source, task, log: null);
    }
}
