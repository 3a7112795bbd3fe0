using System.Text.Json;
using Pipeline.Contracts.V1;
using Pipeline.Storage;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Formats;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Ingest;

/// <summary>A dataset that cannot be ingested; the message names the file and the problem. <see cref="Task"/> is the
/// task of the dataset as read, when it could be read.</summary>
public sealed class DatasetRejectedException(string message, string? task = null) : Exception(message)
{
    public string? Task { get; } = task;
}

/// <summary>
/// Validates a submitted dataset (any format the vision library reads, from a folder or an archive) and stores it:
/// the raw files under <c>datasets/{id}/raw/</c> (an archive as it came, a folder's dataset files one by one), then
/// <c>report.json</c> (the validation report) and, last, <c>manifest.json</c> (its presence means the dataset is complete).
/// </summary>
public sealed class DatasetIngestor(IArtifactStore store, DatasetRoots roots, ILogger<DatasetIngestor> logger)
{
    public const string Container = "datasets";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>The manifest's record of where the raw files are: <c>archive</c> (one blob) or <c>folder</c> (one blob per file).</summary>
    public sealed record RawManifest(string DatasetId, string Format, string Task, IReadOnlyList<string> Classes, string Layout,
        IReadOnlyList<string> Files, string Source);

    public async Task<DatasetIngested> IngestAsync(SubmitDataset submission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var task = ParseTask(submission);
        await using var local = await LocalSource.ResolveAsync(store, roots, submission.Source, cancellationToken).ConfigureAwait(false);
        var (dataset, report) = Validate(local.Path, SubmitDataset.SourceDisplayName(submission.Source), submission.Format, task);
        // A recipe left to the dataset's task is checked against it now, before anything is stored or prepared.
        try
        {
            TaskRecipes.LoadText(TaskName(dataset.Task), submission.RecipeYaml, "recipe");
        }
        catch (RecipeException e)
        {
            throw new DatasetRejectedException(e.Message, TaskName(dataset.Task));
        }

        var datasetId = $"ds-{submission.JobId:N}";
        await store.CreateContainerIfMissingAsync(Container, cancellationToken).ConfigureAwait(false);
        var rawPrefix = $"{datasetId}/raw/";
        var files = new List<string>();
        string layout;
        if (File.Exists(local.Path))
        {
            layout = "archive";
            files.Add(await UploadFileAsync(rawPrefix + local.FileName, local.Path, cancellationToken).ConfigureAwait(false));
        }
        else
        {
            layout = "folder";
            // Only the files some format reads: the folder's other files (and any link leaving it) stay where they are.
            using var source = new FolderSource(local.Path);
            foreach (var file in source.Files.Where(DatasetLoader.IsDatasetFile))
                files.Add(await UploadFileAsync(rawPrefix + file, Path.Combine(local.Path, file), cancellationToken).ConfigureAwait(false));
        }

        var reportBlob = $"{datasetId}/report.json";
        await UploadAsync(reportBlob, System.Text.Encoding.UTF8.GetBytes(report.ToJson()), cancellationToken).ConfigureAwait(false);
        var manifestBlob = $"{datasetId}/manifest.json";
        // The dataset's task: the one asked for (checked above), or the one its format implies.
        var manifest = new RawManifest(datasetId, dataset.Format, TaskName(dataset.Task), dataset.Classes, layout, files, submission.Source);
        await UploadAsync(manifestBlob, JsonSerializer.SerializeToUtf8Bytes(manifest, Json), cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Ingested {DatasetId} for job {JobId}: {Format}, {Kept} images kept, {Skipped} skipped, {Classes} classes",
            datasetId, submission.JobId, dataset.Format, report.ItemsKept, report.ItemsSkipped, dataset.Classes.Count);

        return new DatasetIngested(submission.JobId, datasetId, TaskName(dataset.Task), dataset.Format, dataset.Classes, $"{Container}/{manifestBlob}",
            $"{Container}/{reportBlob}", $"{Container}/{rawPrefix}", submission.RecipeYaml ?? "", submission.Trainers);
    }

    /// <summary>Loads and validates; any reason the dataset is unusable becomes a rejection naming the file.</summary>
    /// <param name="task">The task asked for; null: whatever the dataset's format implies.</param>
    /// <param name="displayName">How messages name the dataset (the user's path, or the upload's file name).</param>
    private static (Dataset Dataset, ValidationReport Report) Validate(string path, string displayName, string? format, TaskKind? task)
    {
        try
        {
            using var source = FileSources.Open(path, displayName: displayName);
            var load = DatasetLoader.Load(source, format);
            if (task is { } asked && load.Dataset.Task != asked)
                throw new DatasetRejectedException($"{source.Name}: the job's task is {TaskName(asked)} but the dataset is a {TaskName(load.Dataset.Task)} dataset ({load.Dataset.Format}); submit it with --task {TaskName(load.Dataset.Task)}");
            var validated = new DatasetValidator { Policy = ProblemPolicy.Unattended }.Validate(source, load);
            var report = validated.Report;
            // The same refusal as pipeline train's (DatasetIntake): one message wherever a dataset is trained.
            if (report.Failed) throw new DatasetRejectedException(DatasetIntake.RefusalMessage(report), TaskName(load.Dataset.Task));
            return (validated.Dataset, report);
        }
        catch (Exception e) when (e is DatasetFormatException or InvalidDataException or ArchiveLimitException or FileNotFoundException
            or DirectoryNotFoundException or ArgumentException or IOException)
        {
            throw new DatasetRejectedException(e.Message);
        }
    }

    private static TaskKind? ParseTask(SubmitDataset submission) => submission.Task.ToLowerInvariant() switch
    {
        "classify" => TaskKind.Classify,
        "detect" => TaskKind.Detect,
        SubmitDataset.AutoTask or "" => null,
        var other => throw new DatasetRejectedException($"{submission.Source}: unknown task '{other}' (known: classify, detect, {SubmitDataset.AutoTask})"),
    };

    private static string TaskName(TaskKind task) => task.ToString().ToLowerInvariant();

    private async Task<string> UploadFileAsync(string blob, string path, CancellationToken cancellationToken)
    {
        await using var input = File.OpenRead(path);
        await store.UploadAsync(Container, blob, input, new UploadOptions { ContentType = "application/octet-stream" }, cancellationToken).ConfigureAwait(false);
        return blob;
    }

    private async Task UploadAsync(string blob, byte[] content, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(content);
        await store.UploadAsync(Container, blob, stream, new UploadOptions { ContentType = "application/json" }, cancellationToken).ConfigureAwait(false);
    }
}
