using Pipeline.Vision.Data;
using Pipeline.Distributed;
using MassTransit;
using Pipeline.Artifacts;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;
using Pipeline.Training;
using Pipeline.Training.Detection;
using Pipeline.Training.Distributed;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;

namespace Pipeline.Trainer;

/// <summary>What one rank needs to train a job: its prepared data, its recipe, and (in a group) its place in it.</summary>
public sealed record RankAssignment(Guid JobId, string PreparedPrefix, IReadOnlyList<string> Classes, Recipe Recipe, DistributedSettings? Group);

/// <summary>
/// Trains one rank of a job, a classifier or a detector: reads the shards, joins the group (if any), resumes from the
/// job's last stored checkpoint, and fits. Rank 0 writes checkpoints (stored and announced by <see cref="TrainingEventsSink"/>); every rank streams its
/// own progress. A lost group member surfaces as <see cref="DistributedException"/> within the group's timeout.
/// </summary>
public sealed class RankRun(JobArtifacts artifacts, TrainerMetrics metrics, IConfiguration configuration, ILogger<RankRun> logger)
{
    /// <summary>How long a group waits for its members and for any collective: a lost member is noticed within it.</summary>
    public TimeSpan GroupTimeout => TimeSpan.FromSeconds(configuration.GetValue("PIPELINE_DIST_TIMEOUT", 60.0));

    /// <summary>This replica's name in events: host and replica index.</summary>
    public string Member => $"{Environment.MachineName}/{configuration["PIPELINE_REPLICA_INDEX"] ?? "0"}";

    /// <summary>The address other replicas reach this one's rendezvous store at, which it binds to (one machine: loopback).</summary>
    public string Address => configuration["PIPELINE_TRAINER_ADDRESS"] ?? "127.0.0.1";

    /// <param name="started">Called on every rank once the group has formed, with every member's name by rank and the step
    /// training resumes from.</param>
    /// <returns>The summary, and the rank's run folder (rank 0's holds <c>best.safetensors</c>).</returns>
    /// <param name="cancelled">Whether the user cancelled the job (its last checkpoint is then not stored).</param>
    public async Task<(TrainingSummary Summary, string RunFolder)> RunAsync(RankAssignment assignment, IPublishEndpoint bus, Func<IReadOnlyList<string>, long, Task> started,
        Func<bool> cancelled, CancellationToken token, CancellationToken publishToken)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        var job = assignment.JobId;
        var rank = assignment.Group?.Rank ?? 0;
        var detect = assignment.Recipe.Task == TaskKind.Detect;
        var runFolder = NewRunFolder(job, rank);
        using var data = detect
            ? await RankData.ReadDetectionAsync(artifacts, assignment.PreparedPrefix, token).ConfigureAwait(false)
            : await RankData.ReadClassificationAsync(artifacts, assignment.PreparedPrefix, token).ConfigureAwait(false);
        var resumed = await artifacts.DownloadLatestCheckpointAsync(job, Path.Combine(runFolder, RunFolderFiles.Checkpoints), token).ConfigureAwait(false);
        if (resumed is not null && rank == 0) await artifacts.DownloadBestSoFarAsync(job, Path.Combine(runFolder, RunFolderFiles.BestModel), token).ConfigureAwait(false);

        return await Task.Run(async () =>
        {
            // Joining blocks until every member has come (or the timeout): off the consumer's thread, as is the loop.
            // On a GPU the group talks over NCCL; each replica sees its own GPU as cuda:0 (the AppHost sets CUDA_VISIBLE_DEVICES).
            using var group = assignment.Group is { } settings ? new ProcessGroupParallel(settings, TrainingDevice.Resolve(assignment.Recipe.Device)) : null;
            // Members on one machine share its cores: each takes its part, or they would all wait on the slowest.
            var threads = torch.get_num_threads();
            if (group is not null && Address == "127.0.0.1") torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / group.WorldSize));
            using var restore = new ThreadsRestorer(threads);
            var progress = new TrainingEventsSink(job, rank, bus, artifacts, cancelled, publishToken);
            using var measured = metrics.Track(job, rank, group?.WorldSize ?? 1);
            var parallel = (IDataParallel?)group ?? SingleProcess.Instance;
            var recipe = StoppedByTheEvaluator(assignment.Recipe);

            async Task<TrainingSummary> FitAsync<TSink, TReport>(BaseTrainer<TSink, TReport> trainer, Func<TrainingSummary> fit) where TSink : IStepSink
            {
                if (resumed is not null)
                {
                    trainer.Resume(resumed);
                    logger.LogInformation("Job {JobId} rank {Rank} resumes from {Checkpoint}", job, rank, resumed);
                }
                IReadOnlyList<string> members = group is null ? [Member]
                    : [.. group.AllGather(System.Text.Encoding.UTF8.GetBytes(Member)).Select(b => System.Text.Encoding.UTF8.GetString(b))];
                await started(members, trainer.State.Step).ConfigureAwait(false);
                // A lost member fails the gradient all-reduce (after backward) with a DistributedException naming it.
                return fit();
            }

            if (data.Detection is { } detection)
            {
                using var detector = new DetectionTrainer(recipe, detection.Train, detection.Validation, new DetectionTrainerOptions
                {
                    OutputDirectory = runFolder,
                    Sinks = rank == 0 ? [progress, measured] : [],
                    RankSinks = rank == 0 ? [] : [progress, measured],
                    Parallel = parallel,
                });
                var summary = await FitAsync(detector, () =>
                {
                    var s = detector.Fit(token);
                    return new TrainingSummary(s.Reason, s.Epochs, s.Steps, s.Metric, s.BestMetric, s.BestEpoch, null, s.Elapsed);
                }).ConfigureAwait(false);
                return (summary, runFolder);
            }
            using var classifier = new Training.Trainer(recipe, data.Classification!.Value.Train, data.Classification.Value.Validation, new TrainerOptions
            {
                OutputDirectory = runFolder,
                Sinks = rank == 0 ? [progress, measured] : [],
                RankSinks = rank == 0 ? [] : [progress, measured],
                Parallel = parallel,
            });
            return (await FitAsync(classifier, () => classifier.Fit(token)).ConfigureAwait(false), runFolder);
        }, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>A rank's prepared shards: a classification job's or a detection job's.</summary>
    private sealed class RankData : IDisposable
    {
        public (TensorDataset Train, TensorDataset Validation)? Classification { get; private init; }
        public (DetectionTensorDataset Train, DetectionTensorDataset Validation)? Detection { get; private init; }

        public static async Task<RankData> ReadClassificationAsync(JobArtifacts artifacts, string prefix, CancellationToken token) =>
            new() { Classification = await ReadSplitsAsync(split => artifacts.ReadShardAsync(prefix, split, token)).ConfigureAwait(false) };

        public static async Task<RankData> ReadDetectionAsync(JobArtifacts artifacts, string prefix, CancellationToken token) =>
            new() { Detection = await ReadSplitsAsync(split => artifacts.ReadDetectionShardAsync(prefix, split, token)).ConfigureAwait(false) };

        // The training split is freed again when the validation split cannot be read.
        private static async Task<(T Train, T Validation)> ReadSplitsAsync<T>(Func<string, Task<T>> read) where T : IDisposable
        {
            var train = await read("train").ConfigureAwait(false);
            try
            {
                return (train, await read("val").ConfigureAwait(false));
            }
            catch
            {
                train.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            Classification?.Train.Dispose();
            Classification?.Validation.Dispose();
            Detection?.Train.Dispose();
            Detection?.Validation.Dispose();
        }
    }

    // In the services the evaluator applies the recipe's early-stopping rule to its own validation reports and tells the
    // trainers to stop (StopTrainingEarly); the loop itself trains on until then.
    private static Recipe StoppedByTheEvaluator(Recipe recipe) => recipe with { EarlyStopping = recipe.EarlyStopping with { Patience = null } };

    // A fresh local folder for a rank's run: whatever an earlier attempt left comes again from the store.
    private string NewRunFolder(Guid job, int rank)
    {
        var runFolder = Path.Combine(configuration["PIPELINE_DATA_DIR"] ?? Path.GetTempPath(), "jobs", job.ToString("N"), $"rank-{rank}");
        if (Directory.Exists(runFolder)) Directory.Delete(runFolder, recursive: true);
        Directory.CreateDirectory(runFolder);
        return runFolder;
    }

    private sealed class ThreadsRestorer(int threads) : IDisposable
    {
        public void Dispose() => torch.set_num_threads(threads);
    }
}
