using System.Text.Json;
using Pipeline.Contracts.V1;
using Pipeline.Storage;
using Pipeline.Training.Data;
using Pipeline.Training.Detection;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Preprocess;

/// <summary>
/// Turns an ingested dataset into training shards: reads the raw files in their format, leaves out what validation
/// skipped, keeps the given splits and carves the missing validation and test splits (stratified, seeded by the recipe),
/// decodes and resizes every image to the recipe's input size (detection: fitted as <c>detection.fit</c> says, boxes
/// along), and writes one shard per split under <c>{dataset}/prepared/</c> (<see cref="TensorDatasetShards"/> or
/// <see cref="DetectionTensorShards"/>), then its <c>manifest.json</c> last (its presence means the preparation is complete).
/// </summary>
public sealed class DatasetPreparer(IArtifactStore store, ILogger<DatasetPreparer> logger)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private sealed record PreparedManifest(string DatasetId, IReadOnlyList<string> Classes, Dictionary<string, long> Splits, int[] ImageShape, string Task = "classify");
    private static readonly (string Name, DatasetSplit Split)[] Splits = [("train", DatasetSplit.Train), ("val", DatasetSplit.Val), ("test", DatasetSplit.Test)];
    private sealed record RawManifest(string Format, string Layout, IReadOnlyList<string> Files, string? Source);

    /// <summary>The announcement of an earlier, complete preparation of this dataset, if there is one.</summary>
    public async Task<DatasetPrepared?> FindPreparedAsync(DatasetIngested ingested, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ingested);
        var (container, prefix) = PreparedPrefix(ingested);
        if (await store.GetPropertiesAsync(container, prefix + "manifest.json", cancellationToken).ConfigureAwait(false) is null) return null;
        var manifest = await ReadJsonAsync<PreparedManifest>(container, prefix + "manifest.json", cancellationToken).ConfigureAwait(false);
        return Announcement(ingested, manifest);
    }

    public async Task<DatasetPrepared> PrepareAsync(DatasetIngested ingested, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ingested);
        // Detect jobs start from the detect defaults (input size, fit), classify jobs from the classify ones.
        var recipe = TaskRecipes.LoadText(ingested.Task, ingested.RecipeYaml, "the job's recipe");
        var (rawContainer, manifestName) = BlobPaths.Split(ingested.ManifestBlob);
        var raw = await ReadJsonAsync<RawManifest>(rawContainer, manifestName, cancellationToken).ConfigureAwait(false);
        var local = Directory.CreateTempSubdirectory("pipeline-preprocess-").FullName;
        try
        {
            var path = await DownloadRawAsync(ingested.RawPrefix, raw, local, cancellationToken).ConfigureAwait(false);
            // Messages name the files as the user knows them, not by this service's temporary copy.
            using var source = FileSources.Open(path, displayName: raw.Source is { } given ? SubmitDataset.SourceDisplayName(given) : null);
            var load = DatasetLoader.Load(source, raw.Format);
            // Ingest validated these same files, decoding every image, and its report names the items it left out. The
            // same items are left out here and the rest checked by their headers only (sizes, boxes, duplicates): the
            // same images are kept without decoding each of them twice.
            var leftOut = await LeftOutItemsAsync(ingested.ReportBlob, cancellationToken).ConfigureAwait(false);
            load = load with { Dataset = load.Dataset.WithItems([.. load.Dataset.Items.Where(i => !leftOut.Contains(i.Path))]) };
            var dataset = new DatasetValidator { Policy = ProblemPolicy.Unattended, DecodeImages = false }.Validate(source, load).Dataset;
            // Names come from the ingest manifest: some formats (IDX) know them only from the original location.
            if (dataset.Classes.Count != ingested.Classes.Count)
                throw new InvalidDataException($"{ingested.ManifestBlob}: lists {ingested.Classes.Count} classes but the raw files have {dataset.Classes.Count}");
            if (!dataset.Task.ToString().Equals(ingested.Task, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"{ingested.ManifestBlob}: the job's task is {ingested.Task} but the raw files are a {dataset.Task.ToString().ToLowerInvariant()} dataset");
            dataset = new Dataset(dataset.Task, ingested.Classes, dataset.Items, dataset.Format, dataset.Source);
            var (container, prefix) = PreparedPrefix(ingested);
            var manifest = dataset.Task == TaskKind.Detect
                ? await WriteDetectionShardsAsync(ingested, dataset, source, recipe, container, prefix, cancellationToken).ConfigureAwait(false)
                : await WriteShardsAsync(ingested, dataset, source, recipe, container, prefix, cancellationToken).ConfigureAwait(false);
            using var content = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
            await store.UploadAsync(container, prefix + "manifest.json", content, new UploadOptions { ContentType = "application/json" }, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Prepared {DatasetId} ({Task}) at {Shape}: {Splits}", ingested.DatasetId, manifest.Task, string.Join("x", manifest.ImageShape),
                string.Join(", ", manifest.Splits.Select(kv => $"{kv.Key} {kv.Value}")));
            return Announcement(ingested, manifest);
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }
    }

    private async Task<PreparedManifest> WriteShardsAsync(DatasetIngested ingested, Dataset dataset, IFileSource source, Recipe recipe,
        string container, string prefix, CancellationToken cancellationToken)
    {
        using var decoded = ClassificationSplits.Decode(dataset, source, recipe, ingested.DatasetId, carveTest: true);
        var splits = new Dictionary<string, long>();
        foreach (var (name, data) in new[] { ("train", decoded.Train), ("val", decoded.Validation), ("test", decoded.Test!) })
        {
            await UploadShardAsync(container, $"{prefix}{name}.safetensors", stream => TensorDatasetShards.Write(data, stream), cancellationToken).ConfigureAwait(false);
            splits[name] = data.Count;
        }
        int[] shape = [.. decoded.Train.Images.shape.Skip(1).Select(d => (int)d)];
        return new PreparedManifest(ingested.DatasetId, dataset.Classes, splits, shape, "classify");
    }

    private async Task<PreparedManifest> WriteDetectionShardsAsync(DatasetIngested ingested, Dataset dataset, IFileSource source, Recipe recipe,
        string container, string prefix, CancellationToken cancellationToken)
    {
        using var decoded = DetectionSplits.Decode(dataset, source, recipe, ingested.DatasetId, carveTest: true);
        var splits = new Dictionary<string, long>();
        foreach (var (name, data) in new[] { ("train", decoded.Train), ("val", decoded.Validation), ("test", decoded.Test!) })
        {
            await UploadShardAsync(container, $"{prefix}{name}.safetensors", stream => DetectionTensorShards.Write(data, stream), cancellationToken).ConfigureAwait(false);
            splits[name] = data.Count;
        }
        int[] shape = [.. decoded.Train.Images.shape.Skip(1).Select(d => (int)d)];
        return new PreparedManifest(ingested.DatasetId, dataset.Classes, splits, shape, "detect");
    }

    /// <summary>Downloads the raw files into <paramref name="folder"/>; returns the path to open (the archive, or the folder).</summary>
    private async Task<string> DownloadRawAsync(string rawPrefix, RawManifest raw, string folder, CancellationToken cancellationToken)
    {
        var (container, prefix) = BlobPaths.Split(rawPrefix);
        foreach (var blob in raw.Files)
        {
            var (_, name) = BlobPaths.Split($"{container}/{blob}");
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) throw new InvalidDataException($"{container}/{name}: not under the raw prefix {rawPrefix}");
            var relative = name[prefix.Length..];
            var target = Path.GetFullPath(Path.Combine(folder, relative));
            if (!target.StartsWith(Path.GetFullPath(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new InvalidDataException($"{container}/{name}: escapes the dataset folder");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            await using var input = await store.DownloadAsync(container, name, null, cancellationToken).ConfigureAwait(false);
            await using var output = File.Create(target);
            await input.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
        }
        if (raw.Layout == "archive")
        {
            if (raw.Files.Count != 1) throw new InvalidDataException($"{rawPrefix}: an archive layout needs exactly one raw file, found {raw.Files.Count}");
            return Path.Combine(folder, raw.Files[0][(raw.Files[0].LastIndexOf('/') + 1)..]);
        }
        return folder;
    }

    private sealed record IngestReport(IReadOnlyList<ReportedItem> Problems);
    private sealed record ReportedItem(string? Item, string Action);

    /// <summary>The items the ingest report says were left out (the dataset-wide problems name no item).</summary>
    private async Task<HashSet<string>> LeftOutItemsAsync(string reportBlob, CancellationToken cancellationToken)
    {
        var (container, name) = BlobPaths.Split(reportBlob);
        var report = await ReadJsonAsync<IngestReport>(container, name, cancellationToken).ConfigureAwait(false);
        return [.. report.Problems.Where(p => p.Item is not null && p.Action == "skip").Select(p => p.Item!)];
    }

    private async Task<T> ReadJsonAsync<T>(string container, string name, CancellationToken cancellationToken)
    {
        await using var stream = await store.DownloadAsync(container, name, null, cancellationToken).ConfigureAwait(false);
        return await JsonSerializer.DeserializeAsync<T>(stream, Json, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{container}/{name} is empty");
    }

    private async Task UploadShardAsync(string container, string blob, Action<Stream> write, CancellationToken cancellationToken)
    {
        // Shards are tens of MB: staged in a temp file, then streamed to the store in blocks.
        var temp = Path.GetTempFileName();
        try
        {
            await using (var file = File.Create(temp)) write(file);
            await using var input = File.OpenRead(temp);
            await store.UploadAsync(container, blob, input, new UploadOptions { ContentType = "application/octet-stream" }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static DatasetPrepared Announcement(DatasetIngested ingested, PreparedManifest manifest)
    {
        var (container, prefix) = PreparedPrefix(ingested);
        return new DatasetPrepared(ingested.JobId, ingested.DatasetId, ingested.Task, manifest.Classes, $"{container}/{prefix}", manifest.Splits, ingested.RecipeYaml, ingested.Trainers);
    }

    private static (string Container, string Prefix) PreparedPrefix(DatasetIngested ingested)
    {
        var (container, _) = BlobPaths.Split(ingested.RawPrefix);
        return (container, $"{ingested.DatasetId}/prepared/");
    }
}
