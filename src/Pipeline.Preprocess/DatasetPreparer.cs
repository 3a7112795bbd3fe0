using System.Text.Json;
using Pipeline.Contracts.V1;
using Pipeline.Storage;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;
using Pipeline.Vision.Imaging;

namespace Pipeline.Preprocess;

/// <summary>
/// Turns an ingested dataset into training shards: reads the raw files in their format, leaves out what validation
/// skipped, keeps the given splits and carves the missing validation and test splits (stratified, seeded by the recipe),
/// decodes and resizes every image to the recipe's input size, and writes one shard per split under
/// <c>{dataset}/prepared/</c>, then its <c>manifest.json</c> last (its presence means the preparation is complete).
/// </summary>
public sealed class DatasetPreparer(IArtifactStore store, ILogger<DatasetPreparer> logger)
{
    /// <summary>Bounds on the side chosen when neither the recipe nor the dataset fixes one input size.</summary>
    public const int MinDefaultSide = 32, MaxDefaultSide = 224;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private sealed record PreparedManifest(string DatasetId, IReadOnlyList<string> Classes, Dictionary<string, long> Splits, int[] ImageShape);
    private sealed record RawManifest(string Format, string Layout, IReadOnlyList<string> Files);

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
        var recipe = RecipeLoader.LoadText(ingested.RecipeYaml, "the job's recipe");
        var (rawContainer, manifestName) = BlobPaths.Split(ingested.ManifestBlob);
        var raw = await ReadJsonAsync<RawManifest>(rawContainer, manifestName, cancellationToken).ConfigureAwait(false);
        var local = Directory.CreateTempSubdirectory("pipeline-preprocess-").FullName;
        try
        {
            var path = await DownloadRawAsync(ingested.RawPrefix, raw, local, cancellationToken).ConfigureAwait(false);
            using var source = FileSources.Open(path);
            var load = DatasetLoader.Load(source, raw.Format);
            // Ingest validated these same files: the same policy leaves out the same items.
            var dataset = new DatasetValidator { Policy = ProblemPolicy.Unattended }.Validate(source, load).Dataset;
            // Names come from the ingest manifest: some formats (IDX) know them only from the original location.
            if (dataset.Classes.Count != ingested.Classes.Count)
                throw new InvalidDataException($"{ingested.ManifestBlob}: lists {ingested.Classes.Count} classes but the raw files have {dataset.Classes.Count}");
            dataset = new Dataset(dataset.Task, ingested.Classes, dataset.Items, dataset.Format, dataset.Source);
            dataset = Split(dataset, recipe.Data, recipe.Seed);

            var (height, width) = InputSize(recipe.Input.Size, dataset);
            var mode = dataset.Items.All(i => i.Pixels is { Channels: 1 }) ? ColorMode.Gray : ColorMode.Rgb;
            var (container, prefix) = PreparedPrefix(ingested);
            var splits = new Dictionary<string, long>();
            int[] shape = [];
            foreach (var (name, split) in new[] { ("train", DatasetSplit.Train), ("val", DatasetSplit.Val), ("test", DatasetSplit.Test) })
            {
                using var data = DatasetTensors.ToTensorDataset(dataset, source, split, height, width, mode);
                if (data.Count == 0) throw new InvalidDataException($"{ingested.DatasetId}: the {name} split is empty ({dataset.Items.Count} usable images in all); the dataset is too small for the recipe's validation and test fractions");
                await UploadShardAsync(container, $"{prefix}{name}.safetensors", data, cancellationToken).ConfigureAwait(false);
                splits[name] = data.Count;
                shape = [.. data.Images.shape.Skip(1).Select(d => (int)d)];
            }
            var manifest = new PreparedManifest(ingested.DatasetId, dataset.Classes, splits, shape);
            using var content = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
            await store.UploadAsync(container, prefix + "manifest.json", content, new UploadOptions { ContentType = "application/json" }, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Prepared {DatasetId} at {Height}x{Width} ({Mode}): {Splits}", ingested.DatasetId, height, width, mode,
                string.Join(", ", splits.Select(kv => $"{kv.Key} {kv.Value}")));
            return Announcement(ingested, manifest);
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }
    }

    /// <summary>Given splits are kept; a missing validation or test split is carved from the training items of each class.</summary>
    public static Dataset Split(Dataset dataset, DataRecipe data, long seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(data);
        if (!dataset.HasSplits) return DatasetSplitter.Stratified(dataset, data.ValidationFraction, data.TestFraction, seed);
        var needVal = !dataset.Items.Any(i => i.Split == DatasetSplit.Val);
        var needTest = !dataset.Items.Any(i => i.Split == DatasetSplit.Test);
        // Items given no split (rare in split layouts) count as training items.
        if (!needVal && !needTest)
            return dataset.WithItems([.. dataset.Items.Select(i => i.Split == DatasetSplit.Unassigned ? i with { Split = DatasetSplit.Train } : i)]);
        var pool = dataset.WithItems([.. dataset.Items.Select(i => i.Split == DatasetSplit.Train ? i with { Split = DatasetSplit.Unassigned } : i)]);
        var valShare = needVal ? data.ValidationFraction : 0;
        var testShare = needTest ? data.TestFraction : 0;
        return DatasetSplitter.Stratified(pool, valShare, testShare, seed);
    }

    /// <summary>The recipe's size, else the images' own when they all share one, else their median side within bounds.</summary>
    public static (int Height, int Width) InputSize(int[]? recipeSize, Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (recipeSize is [var h, var w]) return (h, w);
        var sizes = dataset.Items.Select(i => i.Pixels is { } p ? (p.Width, p.Height) : i.Size).OfType<(int Width, int Height)>().ToList();
        if (sizes.Count == 0) throw new InvalidDataException($"{dataset.Source}: no image sizes are known; set input.size in the recipe");
        if (sizes.All(s => s == sizes[0])) return (sizes[0].Height, sizes[0].Width);
        var sides = sizes.Select(s => Math.Min(s.Width, s.Height)).Order().ToList();
        var side = Math.Clamp(sides[sides.Count / 2], MinDefaultSide, MaxDefaultSide);
        return (side, side);
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

    private async Task<T> ReadJsonAsync<T>(string container, string name, CancellationToken cancellationToken)
    {
        await using var stream = await store.DownloadAsync(container, name, null, cancellationToken).ConfigureAwait(false);
        return await JsonSerializer.DeserializeAsync<T>(stream, Json, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{container}/{name} is empty");
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
