using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Pipeline.Contracts.V1;

namespace Pipeline.Ingest.Registry;

/// <summary>
/// The jobs, their history and metric curves, in SQLite (so they survive restarts). Writes are serialised: the
/// consumers of many event types update the same rows, and SQLite has one writer anyway.
/// </summary>
public sealed class JobRegistry(IDbContextFactory<JobRegistryDbContext> contexts, TimeProvider clock)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly SerialWriter<JobRegistryDbContext> writer = new(contexts);

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await db.Database.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<JobRecord?> GetAsync(Guid id, bool withHistory, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        IQueryable<JobRecord> query = db.Jobs.AsNoTracking();
        if (withHistory) query = query.Include(j => j.Events).Include(j => j.Metrics);
        return await query.FirstOrDefaultAsync(j => j.Id == id, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<JobRecord>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Jobs.AsNoTracking().OrderByDescending(j => j.CreatedAt).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether a job other than <paramref name="except"/> has yet to ingest <paramref name="source"/>.</summary>
    public async Task<bool> AwaitsSourceAsync(string source, Guid except, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Jobs.AnyAsync(j => j.Id != except && j.Source == source && (j.State == JobState.Submitted || j.State == JobState.Ingesting),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the job unless it exists (a redelivered submission); returns the stored record.</summary>
    public Task<JobRecord> CreateAsync(SubmitDataset submission, CancellationToken cancellationToken) => WriteAsync(async db =>
    {
        ArgumentNullException.ThrowIfNull(submission);
        var existing = await db.Jobs.FindAsync([submission.JobId], cancellationToken).ConfigureAwait(false);
        if (existing is not null) return existing;
        var now = clock.GetUtcNow().UtcDateTime;
        var job = new JobRecord
        {
            Id = submission.JobId, State = JobState.Submitted, Task = submission.Task, Source = submission.Source, Format = submission.Format,
            RecipeYaml = submission.RecipeYaml ?? "", Trainers = submission.Trainers, CreatedAt = now, UpdatedAt = now,
        };
        db.Jobs.Add(job);
        db.Events.Add(Event(job.Id, now, nameof(SubmitDataset), submission));
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return job;
    }, cancellationToken);

    /// <summary>
    /// Moves a job to <paramref name="state"/> unless it is already terminal (a late event never revives a failed or
    /// cancelled job). Returns the change to announce, or null when nothing changed or the job is unknown.
    /// </summary>
    public Task<JobStatusChanged?> TransitionAsync(Guid id, JobState state, string? reason, Action<JobRecord>? update, CancellationToken cancellationToken) =>
        WriteAsync<JobStatusChanged?>(async db =>
        {
            var job = await db.Jobs.FindAsync([id], cancellationToken).ConfigureAwait(false);
            if (job is null) return null;
            var now = clock.GetUtcNow();
            update?.Invoke(job);
            JobStatusChanged? change = null;
            if (!job.State.IsTerminal() && job.State != state)
            {
                job.State = state;
                job.Reason = reason ?? job.Reason;
                change = new JobStatusChanged(id, state, reason, now);
                db.Events.Add(Event(id, now.UtcDateTime, nameof(JobStatusChanged), change));
            }
            job.UpdatedAt = now.UtcDateTime;
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return change;
        }, cancellationToken);

    /// <summary>Records an event in the job's history (and its metric points), without changing its state.</summary>
    public Task RecordAsync<T>(Guid id, T message, IEnumerable<MetricRecord>? metrics, Action<JobRecord>? update, CancellationToken cancellationToken) where T : notnull =>
        WriteAsync(async db =>
        {
            var job = await db.Jobs.FindAsync([id], cancellationToken).ConfigureAwait(false);
            if (job is null) return 0;
            var now = clock.GetUtcNow().UtcDateTime;
            update?.Invoke(job);
            job.UpdatedAt = now;
            db.Events.Add(Event(id, now, typeof(T).Name, message));
            foreach (var m in metrics ?? [])
            {
                m.JobId = id;
                m.At = now;
                db.Metrics.Add(m);
            }
            return await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Records a rank's step progress unless that rank already reported this step or a later one: a job resumed from its
    /// last checkpoint after a redelivery repeats the steps since, and their progress is already in the history. Returns
    /// whether it was recorded.
    /// </summary>
    public Task<bool> RecordProgressAsync(TrainingProgress progress, CancellationToken cancellationToken) => WriteAsync(async db =>
    {
        ArgumentNullException.ThrowIfNull(progress);
        var id = progress.JobId;
        var job = await db.Jobs.FindAsync([id], cancellationToken).ConfigureAwait(false);
        if (job is null) return false;
        var reached = await db.Metrics.Where(m => m.JobId == id && m.Rank == progress.Rank && m.Name == ProgressLoss && m.Split == "train")
            .MaxAsync(m => (long?)m.Step, cancellationToken).ConfigureAwait(false);
        if (reached is { } step && progress.Step <= step) return false;
        var now = clock.GetUtcNow().UtcDateTime;
        job.Epoch = progress.Epoch;
        job.Step = progress.Step;
        job.TotalSteps = progress.TotalSteps;
        job.UpdatedAt = now;
        db.Events.Add(Event(id, now, nameof(TrainingProgress), progress));
        foreach (var (name, value) in new[] { (ProgressLoss, progress.Loss), ("lr", progress.LearningRate), ("samples_per_second", progress.SamplesPerSecond) })
            db.Metrics.Add(new MetricRecord { JobId = id, At = now, Name = name, Split = "train", Rank = progress.Rank, Epoch = progress.Epoch, Step = progress.Step, Value = value });
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }, cancellationToken);

    /// <summary>The metric a progress report's loss is kept as (one point per reported step and rank).</summary>
    private const string ProgressLoss = "loss";

    private static JobEventRecord Event(Guid id, DateTime at, string kind, object payload) =>
        new() { JobId = id, At = at, Kind = kind, PayloadJson = JsonSerializer.Serialize(payload, Json) };

    private Task<T> WriteAsync<T>(Func<JobRegistryDbContext, Task<T>> write, CancellationToken cancellationToken) => writer.WriteAsync(write, cancellationToken);
}
