using System.Text.Json;
using Pipeline.Contracts.V1;
using Pipeline.Storage;
using Pipeline.Vision.Data;

namespace Pipeline.Ingest;

/// <summary>A dataset that cannot be ingested; the message names the file and the problem.</summary>
public sealed class DatasetRejectedException(string message) : Exception(message);

/// <summary>
/// Validates a submitted dataset and stores it: the raw files under <c>datasets/{id}/raw/</c>, then
/// <c>report.json</c> and, last, <c>manifest.json</c> (its presence means the dataset is complete).
/// </summary>
public sealed class DatasetIngestor(IArtifactStore store, ILogger<DatasetIngestor> logger)
{
    public const string Container = "datasets";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public async Task<DatasetIngested> IngestAsync(SubmitDataset submission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(submission);
        if (submission.Task != "classify")
            throw new DatasetRejectedException($"{submission.Source}: task '{submission.Task}' is not supported yet (supported: classify)");
        var folder = ResolveLocalFolder(submission.Source);
        if (submission.Format is { } format && format != "idx")
            throw new DatasetRejectedException($"{folder}: format '{format}' is not supported yet (supported: idx)");
        if (!FashionMnist.IsIdxFolder(folder))
            throw new DatasetRejectedException($"{folder}: no dataset found: expected the IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (optionally .gz)");

        // Loading both splits validates every header, size and label.
        var splits = new Dictionary<string, long[]>();
        IReadOnlyList<string> classes;
        try
        {
            using var train = FashionMnist.Load(folder, "train");
            using var test = FashionMnist.Load(folder, "t10k");
            classes = train.Classes;
            splits["train"] = train.ClassCounts();
            splits["test"] = test.ClassCounts();
        }
        catch (InvalidDataException e)
        {
            throw new DatasetRejectedException(e.Message);
        }

        var datasetId = $"ds-{submission.JobId:N}";
        await store.CreateContainerIfMissingAsync(Container, cancellationToken).ConfigureAwait(false);
        var rawPrefix = $"{datasetId}/raw/";
        var files = new List<string>();
        foreach (var path in Directory.EnumerateFiles(folder).Where(p => Path.GetFileName(p).Contains("-idx", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var name = rawPrefix + Path.GetFileName(path);
            await using var input = File.OpenRead(path);
            await store.UploadAsync(Container, name, input, new UploadOptions { ContentType = "application/octet-stream" }, cancellationToken).ConfigureAwait(false);
            files.Add(name);
        }

        var report = new
        {
            datasetId,
            format = "idx",
            task = submission.Task,
            classes,
            splits = splits.ToDictionary(kv => kv.Key, kv => new { images = kv.Value.Sum(), perClass = kv.Value }),
            longTailRatio = splits["train"].Max() / (double)Math.Max(1, splits["train"].Min()),
            imageSize = new { width = 28, height = 28, channels = 1 },
            problems = Array.Empty<object>(),
        };
        var reportBlob = $"{datasetId}/report.json";
        await UploadJsonAsync(reportBlob, report, cancellationToken).ConfigureAwait(false);
        var manifestBlob = $"{datasetId}/manifest.json";
        await UploadJsonAsync(manifestBlob, new { datasetId, format = "idx", task = submission.Task, classes, files, source = submission.Source }, cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Ingested {DatasetId} for job {JobId}: {Count} training images, {Classes} classes", datasetId, submission.JobId, splits["train"].Sum(), classes.Count);

        return new DatasetIngested(submission.JobId, datasetId, submission.Task, "idx", classes, $"{Container}/{manifestBlob}",
            $"{Container}/{reportBlob}", $"{Container}/{rawPrefix}", submission.RecipeYaml ?? "", submission.Trainers);
    }

    private static string ResolveLocalFolder(string source)
    {
        if (!source.StartsWith("path:", StringComparison.Ordinal))
            throw new DatasetRejectedException($"{source}: only path: sources (a folder the ingest service can read) are supported yet");
        var folder = source["path:".Length..];
        if (!Path.IsPathFullyQualified(folder)) throw new DatasetRejectedException($"{folder}: the path must be absolute");
        if (!Directory.Exists(folder)) throw new DatasetRejectedException($"{folder}: no such folder");
        return folder;
    }

    private async Task UploadJsonAsync(string blob, object value, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(value, Json));
        await store.UploadAsync(Container, blob, content, new UploadOptions { ContentType = "application/json" }, cancellationToken).ConfigureAwait(false);
    }
}
