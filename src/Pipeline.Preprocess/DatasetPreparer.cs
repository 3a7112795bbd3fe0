using System.Text.Json;
using Pipeline.Contracts.V1;
using Pipeline.Storage;
using Pipeline.Vision.Data;

namespace Pipeline.Preprocess;

/// <summary>
/// Turns an ingested dataset into training shards: decodes the raw files, keeps the given splits, carves a seeded,
/// stratified validation split from the training split, and writes one shard per split under
/// <c>{dataset}/prepared/</c>, then its <c>manifest.json</c> last (its presence means the preparation is complete).
/// </summary>
public sealed class DatasetPreparer(IArtifactStore store, ILogger<DatasetPreparer> logger)
{
    public const double ValidationFraction = 0.1;
    public const int SplitSeed = 0;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private sealed record PreparedManifest(string DatasetId, IReadOnlyList<string> Classes, Dictionary<string, long> Splits, int[] ImageShape);

    /// <summary>The announcement of an earlier, complete preparation of this dataset, if there is one.</summary>
    public async Task<DatasetPrepared?> FindPreparedAsync(DatasetIngested ingested, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ingested);
        var (container, prefix) = PreparedPrefix(ingested);
        var manifest = await store.GetPropertiesAsync(container, prefix + "manifest.json", cancellationToken).ConfigureAwait(false);
        if (manifest is null) return null;
        await using var stream = await store.DownloadAsync(container, prefix + "manifest.json", null, cancellationToken).ConfigureAwait(false);
        var m = await JsonSerializer.DeserializeAsync<PreparedManifest>(stream, Json, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{container}/{prefix}manifest.json is empty");
        return Announcement(ingested, m);
    }

    public async Task<DatasetPrepared> PrepareAsync(DatasetIngested ingested, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ingested);
        if (ingested.Format != "idx") throw new InvalidDataException($"{ingested.ManifestBlob}: format '{ingested.Format}' cannot be prepared yet (supported: idx)");
        var local = Directory.CreateTempSubdirectory("pipeline-preprocess-").FullName;
        try
        {
            await DownloadRawAsync(ingested.RawPrefix, local, cancellationToken).ConfigureAwait(false);
            using var train = FashionMnist.Load(local, "train", ingested.Classes);
            using var test = FashionMnist.Load(local, "t10k", ingested.Classes);
            var (kept, validation) = train.StratifiedSplit(ValidationFraction, SplitSeed);
            using (kept)
            using (validation)
            {
                var (container, prefix) = PreparedPrefix(ingested);
                var splits = new Dictionary<string, long>();
                foreach (var (split, data) in new[] { ("train", kept), ("val", validation), ("test", test) })
                {
                    await UploadShardAsync(container, $"{prefix}{split}.safetensors", data, cancellationToken).ConfigureAwait(false);
                    splits[split] = data.Count;
                }
                var manifest = new PreparedManifest(ingested.DatasetId, ingested.Classes, splits, [.. train.Images.shape.Skip(1).Select(d => (int)d)]);
                using var content = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
                await store.UploadAsync(container, prefix + "manifest.json", content, new UploadOptions { ContentType = "application/json" }, cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Prepared {DatasetId}: {Splits}", ingested.DatasetId, string.Join(", ", splits.Select(kv => $"{kv.Key} {kv.Value}")));
                return Announcement(ingested, manifest);
            }
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }
    }

    private async Task DownloadRawAsync(string rawPrefix, string folder, CancellationToken cancellationToken)
    {
        var (container, prefix) = BlobPaths.Split(rawPrefix);
        await foreach (var blob in store.ListAsync(container, prefix, cancellationToken).ConfigureAwait(false))
        {
            var target = Path.Combine(folder, Path.GetFileName(blob.Name));
            await using var input = await store.DownloadAsync(container, blob.Name, null, cancellationToken).ConfigureAwait(false);
            await using var output = File.Create(target);
            await input.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task UploadShardAsync(string container, string blob, TensorDataset data, CancellationToken cancellationToken)
    {
        // Shards are tens of MB: staged in a temp file, then streamed to the store in blocks.
        var temp = Path.GetTempFileName();
        try
        {
            await using (var file = File.Create(temp)) TensorDatasetShards.Write(data, file);
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
