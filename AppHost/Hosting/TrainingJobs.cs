using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts.V1;

namespace Pipeline.AppHost.Hosting;

/// <summary>The <c>jobs</c> resource: the parent of the registry's training jobs in the dashboard. It runs while the
/// AppHost polls the ingest service's job list.</summary>
public sealed class TrainingJobsResource(string name) : Resource(name);

/// <summary>One training job of the registry, shown in the dashboard as a child of <c>jobs</c>. It is not part of the
/// application model (jobs come and go while the run is up): the AppHost publishes its snapshots by name.</summary>
public sealed class TrainingJobResource(string name, Guid jobId, TrainingJobsResource parent) : Resource(name), IResourceWithParent<TrainingJobsResource>
{
    public Guid JobId { get; } = jobId;
    public TrainingJobsResource Parent { get; } = parent;
}

/// <summary>The jobs in the Aspire dashboard: their states, epochs, losses and best metrics as the registry has them, a
/// link to each job's studio page, and the commands "Submit Fashion-MNIST" (on <c>jobs</c>) and "Cancel job".</summary>
public static class TrainingJobs
{
    public const string ResourceName = "jobs";
    public const string JobResourceType = "TrainingJob";
    public const string SubmitCommand = "submit-fashion-mnist";
    public const string CancelCommand = "cancel-job";
    public const string FashionMnist = "Fashion-MNIST";

    /// <summary>What the studio's submit page offers by default (web/src/app.js, <c>defaultRecipe</c>): one epoch of a
    /// narrow CNN.</summary>
    public const string DefaultRecipe = "# a quick run: a small CNN, one epoch\nmodel: { name: small_cnn, width: 8 }\nepochs: 1\nbatch_size: 64\n";

    /// <summary>The trainers a Fashion-MNIST submission asks for (fewer if the run has fewer replicas).</summary>
    public const int FashionTrainers = 2;

    /// <summary>The properties of a job resource, as the dashboard's details pane lists them.</summary>
    public static class Properties
    {
        public const string Id = "job.id";
        public const string Task = "job.task";
        public const string Dataset = "job.dataset";
        public const string Trainers = "job.trainers";
        public const string Epoch = "job.epoch";
        public const string Step = "job.step";
        public const string Loss = "job.loss";
        public const string BestMetric = "job.best_metric";
        public const string Reason = "job.reason";
    }

    /// <summary>The dashboard name of a job: <c>job-</c> and the first 8 hex digits of its id.</summary>
    public static string JobResourceName(Guid id) => "job-" + id.ToString("N")[..8];

    public static IResourceBuilder<TrainingJobsResource> AddTrainingJobs(this IDistributedApplicationBuilder builder, string name,
        IResourceBuilder<ProjectResource> ingest, IResourceBuilder<ProjectResource> studio, PipelineRun run)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(ingest);
        ArgumentNullException.ThrowIfNull(studio);
        ArgumentNullException.ThrowIfNull(run);
        var resource = new TrainingJobsResource(name);
        var ingestEndpoint = ingest.GetEndpoint("http");
        var studioEndpoint = studio.GetEndpoint("http");
        builder.Services.AddSingleton(resource);
        builder.Services.AddSingleton(_ => new IngestJobsClient(() => new Uri(ingestEndpoint.Url), run.ApiKey));
        builder.Services.AddSingleton(sp => new TrainingJobsWatcher(resource, ingest.Resource.Name, studioEndpoint, run,
            sp.GetRequiredService<IngestJobsClient>(), sp.GetRequiredService<ResourceNotificationService>(), sp.GetRequiredService<ILogger<TrainingJobsWatcher>>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TrainingJobsWatcher>());
        return builder.AddResource(resource)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "TrainingJobs",
                State = KnownResourceStates.Waiting,
                Properties = [],
            })
            .WithRelationship(ingest.Resource, "Reference")
            .WithCommand(SubmitCommand, "Submit Fashion-MNIST", context => SubmitFashionMnistAsync(context, run), new CommandOptions
            {
                Description = $"Trains the bundled Fashion-MNIST with the studio's default recipe on {FashionTrainers} trainers",
                IconName = "Play",
                IsHighlighted = true,
                // Until the job list is read, ingest may not be there to take it.
                UpdateState = c => c.ResourceSnapshot.State?.Text == KnownResourceStates.Running ? ResourceCommandState.Enabled : ResourceCommandState.Disabled,
            });
    }

    private static async Task<ExecuteCommandResult> SubmitFashionMnistAsync(ExecuteCommandContext context, PipelineRun run)
    {
        if (run.BundledDataset(FashionMnist) is not { } folder)
        {
            return CommandResults.Failure($"PIPELINE_BUNDLED_DATASETS ({run.BundledDatasets}) names no {FashionMnist} folder");
        }
        var client = context.Services.GetRequiredService<IngestJobsClient>();
        var trainers = Math.Min(FashionTrainers, run.TrainerReplicas);
        try
        {
            var answer = await client.SubmitAsync(folder, "classify", DefaultRecipe, trainers, context.CancellationToken).ConfigureAwait(false);
            return answer is { Accepted: true, Job: { } job }
                ? CommandResults.Success($"Submitted {FashionMnist} as job {job.Id} ({JobResourceName(job.Id)}) on {trainers} trainers")
                : CommandResults.Failure($"ingest refused the {FashionMnist} job: {answer.Text}");
        }
        catch (HttpRequestException e)
        {
            return CommandResults.Failure($"ingest did not answer: {e.Message}");
        }
        catch (TaskCanceledException) when (!context.CancellationToken.IsCancellationRequested)
        {
            return CommandResults.Failure("ingest did not answer in time");
        }
    }

    internal static async Task<ExecuteCommandResult> CancelJobAsync(ExecuteCommandContext context, Guid job)
    {
        var client = context.Services.GetRequiredService<IngestJobsClient>();
        try
        {
            var answer = await client.CancelAsync(job, context.CancellationToken).ConfigureAwait(false);
            return answer.Accepted ? CommandResults.Success($"Cancelled job {job}") : CommandResults.Failure(answer.Text);
        }
        catch (HttpRequestException e)
        {
            return CommandResults.Failure($"ingest did not answer: {e.Message}");
        }
        catch (TaskCanceledException) when (!context.CancellationToken.IsCancellationRequested)
        {
            return CommandResults.Failure("ingest did not answer in time");
        }
    }

    /// <summary>The dashboard's style for a registry state.</summary>
    public static string Style(JobState state) => state switch
    {
        JobState.Succeeded => KnownResourceStateStyles.Success,
        JobState.Failed => KnownResourceStateStyles.Error,
        JobState.Cancelled => KnownResourceStateStyles.Warn,
        _ => KnownResourceStateStyles.Info,
    };

    /// <summary>The newest train loss of rank 0 (all ranks report their group's average).</summary>
    public static double? LatestLoss(IEnumerable<IngestJobsClient.Metric> metrics) =>
        metrics.Where(m => m is { Name: "loss", Split: "train", Rank: 0 }).MaxBy(m => m.Step)?.Value;

    /// <summary>The best epoch's validation metric that names the task's quality: accuracy for a classifier, mAP for a
    /// detector. Null until the evaluator has judged an epoch.</summary>
    public static string? BestMetric(string task, int? bestEpoch, IEnumerable<IngestJobsClient.Metric> metrics)
    {
        if (bestEpoch is not { } epoch) return null;
        var name = task == "detect" ? "map" : "accuracy";
        return metrics.LastOrDefault(m => m.Split == "val" && m.Name == name && m.Epoch == epoch) is { } best
            ? string.Create(CultureInfo.InvariantCulture, $"val {name} {best.Value:0.0000} (epoch {epoch})")
            : null;
    }
}

/// <summary>
/// Polls the ingest service's job list every <see cref="Interval"/> once ingest is healthy and publishes each job as a
/// child resource of <c>jobs</c>: its state is the registry's (Submitted ... Succeeded, Failed, Cancelled), its
/// properties the epoch, step, train loss and best metric, its URL the job's studio page. Aspire's dashboard lists every
/// resource the notification service publishes, in the model or not, so jobs appear as they are submitted.
/// </summary>
public sealed class TrainingJobsWatcher(TrainingJobsResource parent, string ingestName, EndpointReference studio, PipelineRun run,
    IngestJobsClient client, ResourceNotificationService notifications, ILogger<TrainingJobsWatcher> logger) : LoopService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>How many of the newest jobs are shown.</summary>
    public const int Shown = 100;

    /// <summary>The dashboard's property that nests a resource under its parent.</summary>
    public const string ParentNameProperty = "resource.parentName";

    private sealed record Published(TrainingJobResource Resource, DateTime UpdatedAt, string State);

    private readonly ConcurrentDictionary<Guid, Published> shown = new();
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private int shownCount = -1;

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            await notifications.WaitForResourceHealthyAsync(ingestName, stoppingToken).ConfigureAwait(false);
            var reachable = true;
            await PublishParentAsync(KnownResourceStates.Running, KnownResourceStateStyles.Success, 0).ConfigureAwait(false);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    var jobs = await client.ListAsync(Shown, stoppingToken).ConfigureAwait(false);
                    foreach (var job in jobs.Reverse())
                    {
                        await PublishAsync(job, stoppingToken).ConfigureAwait(false);
                    }
                    if (!reachable)
                    {
                        logger.LogInformation("The jobs API answers again.");
                        reachable = true;
                    }
                    if (jobs.Count != shownCount)
                    {
                        await PublishParentAsync(KnownResourceStates.Running, KnownResourceStateStyles.Success, jobs.Count).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException
                    || (e is TaskCanceledException && !stoppingToken.IsCancellationRequested))
                {
                    // Ingest restarting (the crash supervisor brings it back): the jobs keep their last state meanwhile.
                    if (reachable)
                    {
                        logger.LogWarning("The jobs API did not answer ({Error}); the jobs keep their last state until it does.", e.Message);
                        reachable = false;
                    }
                }
                await Task.Delay(Interval, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private Task PublishParentAsync(string state, string style, int count)
    {
        shownCount = count;
        return notifications.PublishUpdateAsync(parent, s => s with
        {
            State = new ResourceStateSnapshot(state, style),
            StartTimeStamp = s.StartTimeStamp ?? DateTime.UtcNow,
            Properties = [new ResourcePropertySnapshot("jobs.count", count) { DisplayName = "Jobs shown", IsHighlighted = true }],
        });
    }

    private async Task PublishAsync(IngestJobsClient.Job job, CancellationToken cancellationToken)
    {
        var before = shown.GetValueOrDefault(job.Id);
        if (before is not null && before.UpdatedAt == job.UpdatedAt && before.State == job.State)
        {
            return;
        }
        var resource = before?.Resource ?? NewResource(job.Id);
        // The loss and best metric are in the job's metric history; read it only when the job moved.
        var metrics = await client.MetricsAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? [];
        var state = Enum.TryParse<JobState>(job.State, out var known) ? known : (JobState?)null;
        var terminal = state?.IsTerminal() == true;
        var loss = TrainingJobs.LatestLoss(metrics);
        var best = TrainingJobs.BestMetric(job.Task, job.BestEpoch, metrics);
        var studioPage = studio.IsAllocated ? new Uri($"{studio.Url}/login?t={run.StudioToken}&job={job.Id}") : null;
        ImmutableArray<ResourcePropertySnapshot> properties =
        [
            new(ParentNameProperty, parent.Name),
            new(TrainingJobs.Properties.Id, job.Id.ToString()) { DisplayName = "Job", IsHighlighted = true, SortOrder = 0 },
            new(TrainingJobs.Properties.Task, job.Task) { DisplayName = "Task", IsHighlighted = true, SortOrder = 1 },
            new(TrainingJobs.Properties.Dataset, job.DatasetId is { } id ? $"{job.Source} ({id})" : job.Source) { DisplayName = "Dataset", IsHighlighted = true, SortOrder = 2 },
            new(TrainingJobs.Properties.Trainers, job.Trainers) { DisplayName = "Trainers", IsHighlighted = true, SortOrder = 3 },
            // The registry keeps the epoch in progress from 0; shown from 1, as the studio shows it.
            new(TrainingJobs.Properties.Epoch, job.Epoch + 1) { DisplayName = "Epoch", IsHighlighted = true, SortOrder = 4 },
            new(TrainingJobs.Properties.Step, job.Step is { } step ? (job.TotalSteps is { } total ? $"{step} / {total}" : $"{step}") : null) { DisplayName = "Step", IsHighlighted = true, SortOrder = 5 },
            new(TrainingJobs.Properties.Loss, loss is { } l ? l.ToString("0.0000", CultureInfo.InvariantCulture) : null) { DisplayName = "Train loss", IsHighlighted = true, SortOrder = 6 },
            new(TrainingJobs.Properties.BestMetric, best) { DisplayName = "Best metric", IsHighlighted = true, SortOrder = 7 },
            new(TrainingJobs.Properties.Reason, job.Reason) { DisplayName = "Reason", IsHighlighted = job.Reason is not null, SortOrder = 8 },
        ];
        await notifications.PublishUpdateAsync(resource, resource.Name, s => s with
        {
            ResourceType = TrainingJobs.JobResourceType,
            State = new ResourceStateSnapshot(job.State, state is { } st ? TrainingJobs.Style(st) : KnownResourceStateStyles.Info),
            CreationTimeStamp = Utc(job.CreatedAt),
            StartTimeStamp = Utc(job.CreatedAt),
            StopTimeStamp = terminal ? Utc(job.UpdatedAt) : null,
            Properties = properties,
            Urls = studioPage is null ? [] : [new UrlSnapshot("studio", studioPage.ToString(), IsInternal: false) { DisplayProperties = new("Job page (studio)", 0) }],
        }).ConfigureAwait(false);
        shown[job.Id] = new Published(resource, job.UpdatedAt, job.State);
    }

    // The registry's times are UTC; read back from JSON without a zone they would pass for local times.
    private static DateTime Utc(DateTime time) => time.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : time.ToUniversalTime();

    private TrainingJobResource NewResource(Guid id)
    {
        // Eight hex digits name a job; two jobs that share them (one in 4 billion) get the whole id.
        var name = TrainingJobs.JobResourceName(id);
        lock (names)
        {
            if (!names.Add(name))
            {
                name = "job-" + id.ToString("N");
                names.Add(name);
            }
        }
        var resource = new TrainingJobResource(name, id, parent);
        resource.Annotations.Add(new ResourceCommandAnnotation(
            TrainingJobs.CancelCommand, "Cancel job",
            c => Enum.TryParse<JobState>(c.ResourceSnapshot.State?.Text, out var s) && s.IsTerminal() ? ResourceCommandState.Disabled : ResourceCommandState.Enabled,
            c => TrainingJobs.CancelJobAsync(c, id),
            "Cancels the job: its trainers stop at their next step and nothing of it is evaluated",
            null, $"Cancel job {id}?", "Stop", IconVariant.Regular, true));
        return resource;
    }
}
