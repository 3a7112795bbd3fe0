using System.Text.Json;
using Pipeline.Storage;
using Pipeline.Vision.Data;

namespace Pipeline.Artifacts;

/// <summary>
/// A job's artifacts in the store: <c>jobs/{id}/checkpoints/step-N/…</c> (+ <c>latest.json</c> naming the newest),
/// <c>jobs/{id}/model/best.safetensors</c> and <c>summary.json</c> (written last: the job's training is done), and the
/// evaluator's <c>jobs/{id}/reports/</c> (JSON reports, PNG pictures).
/// </summary>
public sealed class JobArtifacts(IArtifactStore store)
{
    public const string Container = "jobs";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    // A diverged run's loss is NaN: metrics keep it rather than failing to serialise.
    private static readonly JsonSerializerOptions MetricsJson = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public sealed record LatestCheckpoint(string Prefix, int Epoch, long Step);

    /// <summary>What every stage after preparation needs to know of a job.</summary>
    public sealed record JobInfo(Guid JobId, string Task, IReadOnlyList<string> Classes, string PreparedPrefix, string RecipeYaml);

    public static string JobInfoBlob(Guid job) => $"{job:N}/job.json";
    public static string ReportBlob(Guid job, string name) => $"{job:N}/reports/{name}";
    public static string CheckpointsPrefix(Guid job) => $"{job:N}/checkpoints/";
    public static string ModelBlob(Guid job) => $"{job:N}/model/best.safetensors";
    public static string SummaryBlob(Guid job) => $"{job:N}/model/summary.json";
    public static string CancelledBlob(Guid job) => $"{job:N}/cancelled.json";
    public static string BestSoFarBlob(Guid job) => $"{job:N}/model/best-so-far.safetensors";

    public static string AttemptsBlob(Guid job) => $"{job:N}/attempts.json";

    private sealed record Attempts(int Attempt);

    /// <summary>Counts one more attempt at training the job (a delivery of it, or a re-formed group) and returns its number,
    /// from 1. Kept in the store, so a redelivered job counts on from where the replica that lost it stopped.</summary>
    public async Task<int> NextAttemptAsync(Guid job, CancellationToken cancellationToken)
    {
        var last = 0;
        if (await store.GetPropertiesAsync(Container, AttemptsBlob(job), cancellationToken).ConfigureAwait(false) is not null)
        {
            await using var stream = await store.DownloadAsync(Container, AttemptsBlob(job), null, cancellationToken).ConfigureAwait(false);
            last = (await JsonSerializer.DeserializeAsync<Attempts>(stream, Json, cancellationToken).ConfigureAwait(false))?.Attempt ?? 0;
        }
        await UploadJsonAsync(AttemptsBlob(job), new Attempts(last + 1), cancellationToken).ConfigureAwait(false);
        return last + 1;
    }

    public Task EnsureContainerAsync(CancellationToken cancellationToken) => store.CreateContainerIfMissingAsync(Container, cancellationToken);

    public Task WriteJobInfoAsync(JobInfo info, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        return UploadJsonAsync(JobInfoBlob(info.JobId), info, cancellationToken);
    }

    public async Task<JobInfo> ReadJobInfoAsync(Guid job, CancellationToken cancellationToken)
    {
        await using var stream = await store.DownloadAsync(Container, JobInfoBlob(job), null, cancellationToken).ConfigureAwait(false);
        return await JsonSerializer.DeserializeAsync<JobInfo>(stream, Json, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{Container}/{JobInfoBlob(job)} is empty");
    }

    /// <summary>Downloads one blob of the jobs container (a checkpoint's model, the best model) to a local file.</summary>
    public Task DownloadAsync(string blob, string path, CancellationToken cancellationToken) => DownloadFileAsync(Container, blob, path, cancellationToken);

    public async Task UploadReportAsync(Guid job, string name, string json, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        await store.UploadAsync(Container, ReportBlob(job, name), content, new UploadOptions { ContentType = "application/json" }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The metrics of one epoch's validation report, as the evaluator recorded them.</summary>
    public static string ValidationMetricsBlob(Guid job, int epoch) => ReportBlob(job, $"val-epoch-{epoch:D3}.metrics.json");

    public Task UploadValidationMetricsAsync(Guid job, int epoch, IReadOnlyDictionary<string, double> metrics, CancellationToken cancellationToken) =>
        UploadJsonAsync(ValidationMetricsBlob(job, epoch), metrics, cancellationToken, MetricsJson);

    /// <summary>Every epoch's recorded validation metrics, by epoch.</summary>
    public async Task<SortedDictionary<int, Dictionary<string, double>>> ReadValidationMetricsAsync(Guid job, CancellationToken cancellationToken)
    {
        const string Prefix = "val-epoch-", Suffix = ".metrics.json";
        var history = new SortedDictionary<int, Dictionary<string, double>>();
        await foreach (var blob in store.ListAsync(Container, ReportBlob(job, Prefix), cancellationToken).ConfigureAwait(false))
        {
            var name = blob.Name[(blob.Name.LastIndexOf('/') + 1)..];
            if (!name.EndsWith(Suffix, StringComparison.Ordinal) ||
                !int.TryParse(name.AsSpan(Prefix.Length, name.Length - Prefix.Length - Suffix.Length), System.Globalization.NumberStyles.None,
                    System.Globalization.CultureInfo.InvariantCulture, out var epoch)) continue;
            await using var stream = await store.DownloadAsync(Container, blob.Name, null, cancellationToken).ConfigureAwait(false);
            history[epoch] = await JsonSerializer.DeserializeAsync<Dictionary<string, double>>(stream, MetricsJson, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"{Container}/{blob.Name} is empty");
        }
        return history;
    }

    /// <summary>Uploads a picture (PNG bytes) beside the reports.</summary>
    public async Task UploadReportImageAsync(Guid job, string name, byte[] png, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(png);
        using var content = new MemoryStream(png);
        await store.UploadAsync(Container, ReportBlob(job, name), content, new UploadOptions { ContentType = "image/png" }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uploads a checkpoint folder's files, then moves <c>latest.json</c> to it; returns its prefix.</summary>
    public async Task<string> UploadCheckpointAsync(Guid job, string folder, int epoch, long step, CancellationToken cancellationToken)
    {
        var prefix = CheckpointsPrefix(job) + Path.GetFileName(folder) + "/";
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            await using var input = File.OpenRead(file);
            await store.UploadAsync(Container, prefix + Path.GetFileName(file), input, null, cancellationToken).ConfigureAwait(false);
        }
        await UploadJsonAsync(CheckpointsPrefix(job) + "latest.json", new LatestCheckpoint(prefix, epoch, step), cancellationToken).ConfigureAwait(false);
        return prefix;
    }

    /// <summary>Downloads the newest checkpoint into <paramref name="checkpointsFolder"/>; returns its local folder, or null.</summary>
    public async Task<string?> DownloadLatestCheckpointAsync(Guid job, string checkpointsFolder, CancellationToken cancellationToken)
    {
        var latestBlob = CheckpointsPrefix(job) + "latest.json";
        if (await store.GetPropertiesAsync(Container, latestBlob, cancellationToken).ConfigureAwait(false) is null) return null;
        LatestCheckpoint latest;
        await using (var stream = await store.DownloadAsync(Container, latestBlob, null, cancellationToken).ConfigureAwait(false))
            latest = await JsonSerializer.DeserializeAsync<LatestCheckpoint>(stream, Json, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"{Container}/{latestBlob} is empty");
        var local = Path.Combine(checkpointsFolder, Path.GetFileName(latest.Prefix.TrimEnd('/')));
        Directory.CreateDirectory(local);
        await foreach (var blob in store.ListAsync(Container, latest.Prefix, cancellationToken).ConfigureAwait(false))
            await DownloadFileAsync(Container, blob.Name, Path.Combine(local, Path.GetFileName(blob.Name)), cancellationToken).ConfigureAwait(false);
        return local;
    }

    public async Task UploadModelAsync(Guid job, string bestModelFile, object summary, CancellationToken cancellationToken)
    {
        await using (var input = File.OpenRead(bestModelFile))
            await store.UploadAsync(Container, ModelBlob(job), input, null, cancellationToken).ConfigureAwait(false);
        await UploadJsonAsync(SummaryBlob(job), summary, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Keeps the best weights seen so far in the store: a trainer that takes the job over after a failure
    /// resumes from a checkpoint, but the best epoch may lie before it.</summary>
    public async Task UploadBestSoFarAsync(Guid job, string bestModelFile, CancellationToken cancellationToken)
    {
        await using var input = File.OpenRead(bestModelFile);
        await store.UploadAsync(Container, BestSoFarBlob(job), input, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Downloads the best weights so far to <paramref name="path"/>; false when none are stored.</summary>
    public async Task<bool> DownloadBestSoFarAsync(Guid job, string path, CancellationToken cancellationToken)
    {
        if (await store.GetPropertiesAsync(Container, BestSoFarBlob(job), cancellationToken).ConfigureAwait(false) is null) return false;
        await DownloadFileAsync(Container, BestSoFarBlob(job), path, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Records that the user cancelled the job, so that a stage that has not started it yet never does
    /// (a cancel message reaches only the stages running the job at that moment).</summary>
    public async Task MarkCancelledAsync(Guid job, string reason, CancellationToken cancellationToken)
    {
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        await UploadJsonAsync(CancelledBlob(job), new { job, reason, at = DateTimeOffset.UtcNow }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> IsCancelledAsync(Guid job, CancellationToken cancellationToken) =>
        await store.GetPropertiesAsync(Container, CancelledBlob(job), cancellationToken).ConfigureAwait(false) is not null;

    public async Task<bool> IsTrainedAsync(Guid job, CancellationToken cancellationToken) =>
        await store.GetPropertiesAsync(Container, SummaryBlob(job), cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Reads a prepared split's shard (<c>container/prefix</c> + <c>{split}.safetensors</c>).</summary>
    public Task<TensorDataset> ReadShardAsync(string preparedPrefix, string split, CancellationToken cancellationToken) =>
        ReadShardAsync(preparedPrefix, split, TensorDatasetShards.Read, cancellationToken);

    /// <summary>Reads a prepared detection split's shard (images and boxes).</summary>
    public Task<DetectionTensorDataset> ReadDetectionShardAsync(string preparedPrefix, string split, CancellationToken cancellationToken) =>
        ReadShardAsync(preparedPrefix, split, DetectionTensorShards.Read, cancellationToken);

    private async Task<T> ReadShardAsync<T>(string preparedPrefix, string split, Func<Stream, string, T> read, CancellationToken cancellationToken)
    {
        var (container, prefix) = BlobPaths.Split(preparedPrefix);
        var temp = Path.GetTempFileName();
        try
        {
            await DownloadFileAsync(container, $"{prefix}{split}.safetensors", temp, cancellationToken).ConfigureAwait(false);
            await using var input = File.OpenRead(temp);
            return read(input, $"{container}/{prefix}{split}.safetensors");
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private sealed record PreparedShape(int[] ImageShape);

    /// <summary>The prepared images' (channels, height, width), from the preparation's manifest.</summary>
    public async Task<int[]> ReadImageShapeAsync(string preparedPrefix, CancellationToken cancellationToken)
    {
        var (container, prefix) = BlobPaths.Split(preparedPrefix);
        await using var stream = await store.DownloadAsync(container, prefix + "manifest.json", null, cancellationToken).ConfigureAwait(false);
        var manifest = await JsonSerializer.DeserializeAsync<PreparedShape>(stream, Json, cancellationToken).ConfigureAwait(false);
        return manifest?.ImageShape is { Length: 3 } shape ? shape
            : throw new InvalidDataException($"{container}/{prefix}manifest.json: no imageShape of (channels, height, width)");
    }

    /// <summary>The ETag of the job's best model, or null while there is none.</summary>
    public async Task<string?> ModelVersionAsync(Guid job, CancellationToken cancellationToken) =>
        (await store.GetPropertiesAsync(Container, ModelBlob(job), cancellationToken).ConfigureAwait(false))?.ETag;

    private async Task DownloadFileAsync(string container, string blob, string path, CancellationToken cancellationToken)
    {
        await using var input = await store.DownloadAsync(container, blob, null, cancellationToken).ConfigureAwait(false);
        await using var output = File.Create(path);
        await input.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
    }

    private async Task UploadJsonAsync(string blob, object value, CancellationToken cancellationToken, JsonSerializerOptions? options = null)
    {
        using var content = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(value, options ?? Json));
        await store.UploadAsync(Container, blob, content, new UploadOptions { ContentType = "application/json" }, cancellationToken).ConfigureAwait(false);
    }
}
