using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Pipeline.Contracts.V1;
using Pipeline.Ingest.Registry;
using Pipeline.Training.Recipes;
using Pipeline.Training.Sweeps;

namespace Pipeline.Ingest.Sweeps;

/// <summary>A trial ASHA has just stopped: the trainers are to be told.</summary>
public sealed record TrialStop(Guid JobId, int BestEpoch, string Reason);

/// <summary>
/// The sweeps, their trials and ASHA's rungs, in SQLite. Every change is serialised (one writer): ASHA ranks a trial
/// against the values recorded at its rung, and two trials reaching a rung at once must see each other in order.
/// </summary>
public sealed class SweepRegistry(IDbContextFactory<SweepRegistryDbContext> contexts, TimeProvider clock, ILogger<SweepRegistry> logger)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly SerialWriter<SweepRegistryDbContext> writer = new(contexts);

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await db.Database.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores a planned sweep whose trials are the jobs <paramref name="jobIds"/> (by trial, in order), at most
    /// <paramref name="parallel"/> of them in progress at once.</summary>
    public Task<SweepRecord> CreateAsync(Guid id, SweepPlan plan, SubmitDataset submission, int parallel, string sweepYaml, IReadOnlyList<Guid> jobIds,
        CancellationToken cancellationToken) =>
        WriteAsync(async db =>
        {
            ArgumentNullException.ThrowIfNull(plan);
            ArgumentNullException.ThrowIfNull(submission);
            var now = clock.GetUtcNow().UtcDateTime;
            var sweep = new SweepRecord
            {
                Id = id, State = SweepState.Running, Task = plan.Task, Source = submission.Source, Format = submission.Format, Trainers = submission.Trainers,
                Parallel = parallel, SweepYaml = sweepYaml, Metric = plan.Metric,
                Mode = plan.Mode == MetricMode.Max ? "max" : "min", Search = plan.Spec.Search == SearchKind.Grid ? "grid" : "random",
                KeysJson = JsonSerializer.Serialize(plan.Spec.Space.Select(p => p.Key).ToList(), Json),
                AshaMinEpochs = plan.Spec.Asha?.MinEpochs, AshaReduction = plan.Spec.Asha?.Reduction, CreatedAt = now, UpdatedAt = now,
            };
            foreach (var (trial, job) in plan.Trials.Zip(jobIds))
                sweep.Trials.Add(new SweepTrialRecord
                {
                    SweepId = id, Number = trial.Number, JobId = job, ValuesJson = new JsonObject(trial.Values.Select(kv =>
                        KeyValuePair.Create(kv.Key, kv.Value?.DeepClone()))).ToJsonString(), RecipeJson = trial.RecipeJson, Epochs = trial.Epochs,
                    State = JobState.Submitted,
                });
            var asha = plan.Spec.Asha is { } a ? $", ASHA from epoch {a.MinEpochs} keeping the best 1/{a.Reduction} at each rung" : ", no early stopping between trials";
            sweep.Events.Add(Event(id, now, "Started",
                $"{plan.Trials.Count} trials ({sweep.Search} search over {string.Join(", ", plan.Spec.Space.Select(p => p.Key))}), {parallel} at a time, ranked by validation {plan.Metric} ({sweep.Mode}){asha}"));
            db.Sweeps.Add(sweep);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return sweep;
        }, cancellationToken);

    public async Task<SweepRecord?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Sweeps.AsNoTracking().Include(s => s.Trials).Include(s => s.Events).AsSplitQuery()
            .FirstOrDefaultAsync(s => s.Id == id, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<SweepRecord>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Sweeps.AsNoTracking().Include(s => s.Trials).AsSplitQuery().OrderByDescending(s => s.CreatedAt).Take(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A trial's validation metrics after <paramref name="epoch"/> epochs: its curve and best value move, and at an ASHA
    /// rung it is ranked against the trials that reached that rung before it. Returns the stop to send, if ASHA stops it;
    /// null for a job of no sweep.
    /// </summary>
    public Task<TrialStop?> OnValidationAsync(Guid jobId, int epoch, IReadOnlyDictionary<string, double> metrics, CancellationToken cancellationToken) =>
        WriteAsync<TrialStop?>(async db =>
        {
            var trial = await db.Trials.FirstOrDefaultAsync(t => t.JobId == jobId, cancellationToken).ConfigureAwait(false);
            if (trial is null) return null;
            var sweep = await db.Sweeps.FirstAsync(s => s.Id == trial.SweepId, cancellationToken).ConfigureAwait(false);
            var ranking = Ranking(sweep);
            var value = metrics.TryGetValue(sweep.Metric, out var v) ? v : double.NaN;
            var curve = JsonSerializer.Deserialize<List<double[]>>(trial.CurveJson, Json) ?? [];
            // A metric the evaluation lacks is NaN: ASHA stops the trial on it, and the curve (JSON) leaves it out.
            if (double.IsFinite(value) && curve.All(p => (int)p[0] != epoch))
            {
                curve.Add([epoch, value]);
                curve.Sort((a, b) => a[0].CompareTo(b[0]));
                trial.CurveJson = JsonSerializer.Serialize(curve, Json);
            }
            trial.EpochsDone = Math.Max(trial.EpochsDone, epoch);
            if (ranking.Better(value, trial.BestValue ?? double.NaN))
                (trial.BestValue, trial.BestEpoch) = (value, epoch);
            var now = clock.GetUtcNow().UtcDateTime;
            sweep.UpdatedAt = now;
            TrialStop? stop = null;
            var judged = await db.Rungs.FirstOrDefaultAsync(r => r.SweepId == sweep.Id && r.JobId == jobId && r.Epoch == epoch, cancellationToken).ConfigureAwait(false);
            if (judged is not null)
            {
                // A redelivered evaluation is judged once; a stop whose sending failed is sent again (twice is harmless).
                if (!judged.Continued && !trial.State.IsTerminal()) stop = new TrialStop(jobId, trial.BestEpoch ?? epoch, trial.StopReason ?? "ASHA");
            }
            else if (sweep.AshaMinEpochs is { } min && sweep.AshaReduction is { } reduction && sweep.State == SweepState.Running && !trial.StoppedEarly
                && !trial.State.IsTerminal())
            {
                var recorded = await db.Rungs.Where(r => r.SweepId == sweep.Id && r.Epoch == epoch).Select(r => r.Value).ToListAsync(cancellationToken).ConfigureAwait(false);
                if (Asha.Judge(new AshaSettings(min, reduction), ranking, trial.Epochs, epoch, value, recorded) is { } decision)
                {
                    db.Rungs.Add(new SweepRungRecord { SweepId = sweep.Id, JobId = jobId, Epoch = epoch, Value = value, Continued = decision.Continue });
                    if (!decision.Continue)
                    {
                        (trial.StoppedEarly, trial.StopReason) = (true, decision.Reason);
                        db.Events.Add(Event(sweep.Id, now, "TrialStopped", $"trial {trial.Number} ({Describe(trial)}): {decision.Reason}"));
                        stop = new TrialStop(jobId, trial.BestEpoch ?? epoch, decision.Reason);
                    }
                    logger.LogInformation("Sweep {SweepId} trial {Trial}: {Reason}", sweep.Id, trial.Number, decision.Reason);
                }
            }
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return stop;
        }, cancellationToken);

    /// <summary>
    /// Submits the sweep's next trials while fewer than its parallel are in progress: each is published (through
    /// <paramref name="publish"/>) before it is marked so, so a crash in between publishes it again, which ingest ignores
    /// for a job already past Submitted. Nothing is submitted for a sweep that is over.
    /// </summary>
    public Task SubmitDueTrialsAsync(Guid sweepId, Func<SubmitDataset, Task> publish, CancellationToken cancellationToken) => WriteAsync(async db =>
    {
        ArgumentNullException.ThrowIfNull(publish);
        var sweep = await db.Sweeps.Include(s => s.Trials).FirstOrDefaultAsync(s => s.Id == sweepId, cancellationToken).ConfigureAwait(false);
        if (sweep is null || sweep.State != SweepState.Running) return 0;
        var inProgress = sweep.Trials.Count(t => t.Published && !t.State.IsTerminal());
        var now = clock.GetUtcNow();
        foreach (var trial in sweep.Trials.Where(t => !t.Published && !t.State.IsTerminal()).OrderBy(t => t.Number).Take(Math.Max(0, sweep.Parallel - inProgress)))
        {
            await publish(new SubmitDataset(trial.JobId, sweep.Source, sweep.Task, sweep.Format, trial.RecipeJson, sweep.Trainers, now)).ConfigureAwait(false);
            trial.Published = true;
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        return 0;
    }, cancellationToken);

    /// <summary>A trial's test metrics (of its best model), once its job has evaluated it.</summary>
    public Task OnTestAsync(Guid jobId, IReadOnlyDictionary<string, double> metrics, CancellationToken cancellationToken) => WriteAsync(async db =>
    {
        var trial = await db.Trials.FirstOrDefaultAsync(t => t.JobId == jobId, cancellationToken).ConfigureAwait(false);
        if (trial is null) return 0;
        trial.TestJson = JsonSerializer.Serialize(metrics, Json);
        return await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }, cancellationToken);

    /// <summary>
    /// A trial's job changed state. Once every trial's job is over, the sweep is: its best trial is the one with the best
    /// validation value (its job holds the sweep's model); it fails only when no trial gave a value.
    /// </summary>
    /// <returns>The trial's sweep when the trial has ended (its next trials may be due; also for a redelivered end, whose
    /// submissions may not have gone out), else null.</returns>
    public Task<Guid?> OnJobStateAsync(Guid jobId, JobState state, string? reason, CancellationToken cancellationToken) => WriteAsync<Guid?>(async db =>
    {
        var trial = await db.Trials.FirstOrDefaultAsync(t => t.JobId == jobId, cancellationToken).ConfigureAwait(false);
        if (trial is null) return null;
        if (trial.State.IsTerminal()) return state.IsTerminal() ? trial.SweepId : null;
        trial.State = state;
        var sweep = await db.Sweeps.Include(s => s.Trials).FirstAsync(s => s.Id == trial.SweepId, cancellationToken).ConfigureAwait(false);
        var now = clock.GetUtcNow().UtcDateTime;
        sweep.UpdatedAt = now;
        if (state.IsTerminal())
        {
            var value = trial.BestValue is { } best ? string.Create(CultureInfo.InvariantCulture, $", best validation {sweep.Metric} {best:G4} at epoch {trial.BestEpoch}") : "";
            var why = state == JobState.Failed && reason is not null ? $": {reason}" : "";
            db.Events.Add(Event(sweep.Id, now, "TrialFinished", $"trial {trial.Number} {state} after {trial.EpochsDone} of {trial.Epochs} epochs{value}{why}"));
        }
        if (sweep.State == SweepState.Running && sweep.Trials.All(t => t.State.IsTerminal()))
            Complete(db, sweep, now);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return state.IsTerminal() ? sweep.Id : null;
    }, cancellationToken);

    /// <summary>The sweeps still running (whose due trials are submitted again when the service starts).</summary>
    public async Task<IReadOnlyList<Guid>> RunningAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Sweeps.Where(s => s.State == SweepState.Running).Select(s => s.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks a running sweep cancelled and returns its trials' jobs that are not over yet (to cancel); null when
    /// the sweep is unknown or already over.</summary>
    public Task<IReadOnlyList<Guid>?> CancelAsync(Guid id, string reason, CancellationToken cancellationToken) => WriteAsync<IReadOnlyList<Guid>?>(async db =>
    {
        var sweep = await db.Sweeps.Include(s => s.Trials).FirstOrDefaultAsync(s => s.Id == id, cancellationToken).ConfigureAwait(false);
        if (sweep is null || sweep.State != SweepState.Running) return null;
        var now = clock.GetUtcNow().UtcDateTime;
        (sweep.State, sweep.Reason, sweep.UpdatedAt) = (SweepState.Cancelled, reason, now);
        var running = sweep.Trials.Where(t => !t.State.IsTerminal()).Select(t => t.JobId).ToList();
        db.Events.Add(Event(id, now, "Cancelled", $"{reason}; {running.Count} trial(s) not yet over are cancelled"));
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return running;
    }, cancellationToken);

    private static void Complete(SweepRegistryDbContext db, SweepRecord sweep, DateTime now)
    {
        var ranking = Ranking(sweep);
        SweepTrialRecord? best = null;
        foreach (var t in sweep.Trials.Where(t => t.BestValue is not null).OrderBy(t => t.Number))
            if (best is null || ranking.Better(t.BestValue!.Value, best.BestValue!.Value)) best = t;
        if (best is null)
        {
            var failed = sweep.Trials.OrderBy(t => t.Number).FirstOrDefault(t => t.State == JobState.Failed);
            (sweep.State, sweep.Reason) = (SweepState.Failed, failed is null
                ? "no trial reached a validation result"
                : $"no trial reached a validation result (trial {failed.Number}'s job {failed.JobId} failed: see its history)");
            db.Events.Add(Event(sweep.Id, now, "Completed", $"sweep failed: {sweep.Reason}"));
            return;
        }
        (sweep.State, sweep.BestTrial) = (SweepState.Succeeded, best.Number);
        var stopped = sweep.Trials.Count(t => t.StoppedEarly);
        db.Events.Add(Event(sweep.Id, now, "Completed", string.Create(CultureInfo.InvariantCulture,
            $"best trial {best.Number} ({Describe(best)}): validation {sweep.Metric} {best.BestValue:G4} at epoch {best.BestEpoch}; its job {best.JobId} holds the sweep's model; {stopped} of {sweep.Trials.Count} trials stopped early by ASHA")));
    }

    public static SweepRanking Ranking(SweepRecord sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        return new SweepRanking(sweep.Metric, sweep.Mode == "min" ? MetricMode.Min : MetricMode.Max);
    }

    /// <summary>A trial's values as one line: <c>optimizer.lr=0.0123 model.width=16</c>.</summary>
    public static string Describe(SweepTrialRecord trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        var values = JsonNode.Parse(trial.ValuesJson) as JsonObject ?? [];
        return SweepPlanner.Describe(values.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
    }

    private static SweepEventRecord Event(Guid id, DateTime at, string kind, string text) => new() { SweepId = id, At = at, Kind = kind, Text = text };

    private Task WriteAsync(Func<SweepRegistryDbContext, Task<int>> write, CancellationToken cancellationToken) => writer.WriteAsync(write, cancellationToken);

    private Task<T> WriteAsync<T>(Func<SweepRegistryDbContext, Task<T>> write, CancellationToken cancellationToken) => writer.WriteAsync(write, cancellationToken);
}
