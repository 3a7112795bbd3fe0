using System.Text.Json;
using System.Text.Json.Nodes;
using MassTransit;
using Pipeline.Artifacts;
using Pipeline.Contracts.V1;
using Pipeline.Ingest.Api;
using Pipeline.Ingest.Registry;
using Pipeline.Storage;
using Pipeline.Training.Recipes;
using Pipeline.Training.Sweeps;

namespace Pipeline.Ingest.Sweeps;

/// <summary>
/// Start, list, inspect and cancel hyper-parameter sweeps. A sweep's trials are ordinary jobs, submitted together: the
/// trainer replicas work through them as through any jobs (as many at once as there are idle replicas), and ASHA stops
/// weak ones through the bus (<see cref="SweepCoordinator"/>).
/// </summary>
public static class SweepsApi
{
    /// <summary>A sweep over HTTP: the dataset as for a job (<paramref name="Path"/> or an uploaded <paramref name="Source"/>),
    /// the sweep file's text, and the recipe the trials start from (here, or as the sweep's own <c>recipe:</c> map).</summary>
    public sealed record SubmitSweepRequest(string? Path, string? Source, string? Task, string? Format, string? RecipeYaml, string? SweepYaml, int? Trainers);

    public sealed record SweepView(Guid Id, string State, string Task, string Source, string Metric, string Mode, string Search, bool Asha, int Trials,
        int Finished, int StoppedEarly, int? BestTrial, Guid? BestJobId, double? BestValue, string? Reason, DateTime CreatedAt, DateTime UpdatedAt);

    public sealed record CurvePoint(int Epoch, double Value);

    public sealed record TrialView(int Number, Guid JobId, IReadOnlyDictionary<string, JsonNode?> Values, string State, int Epochs, int EpochsDone,
        double? BestValue, int? BestEpoch, bool StoppedEarly, string? StopReason, IReadOnlyList<CurvePoint> Curve, IReadOnlyDictionary<string, double>? Test);

    public sealed record SweepEventView(DateTime At, string Kind, string Text);

    public sealed record BestTrialView(int Number, Guid JobId, IReadOnlyDictionary<string, JsonNode?> Values, double Value, string RecipeJson);

    public sealed record SweepDetail(SweepView Sweep, IReadOnlyList<string> Keys, IReadOnlyList<TrialView> Trials, IReadOnlyList<SweepEventView> Events,
        BestTrialView? Best);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static void MapSweepsApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup("/api/sweeps");

        api.MapPost("/", async (SubmitSweepRequest request, IPublishEndpoint bus, JobRegistry jobs, SweepRegistry sweeps, DatasetRoots roots,
            IArtifactStore store, IConfiguration configuration, CancellationToken cancellationToken) =>
        {
            if (string.IsNullOrWhiteSpace(request.SweepYaml))
                return Results.Problem("give 'sweepYaml': the sweep file's text (space, trials, search, scheduler, ...)", statusCode: 400);
            var (source, problem) = await JobsApi.CheckSourceAsync(request.Path, request.Source, roots, store, cancellationToken).ConfigureAwait(false);
            if (problem is not null) return problem;
            var trainers = request.Trainers ?? 1;
            if ((JobsApi.CheckTrainers(trainers, configuration) ?? JobsApi.CheckFormat(request.Format)) is { } refused) return refused;
            SweepPlan plan;
            try
            {
                plan = Plan(request);
            }
            catch (RecipeException e)
            {
                return Results.Problem(e.Message, statusCode: 400);
            }
            // As many trials at once as the sweep says, else as the trainer replicas can train side by side.
            var replicas = configuration.GetValue<int?>(JobsApi.TrainerReplicasVariable) ?? 1;
            var parallel = plan.Spec.Parallel ?? Math.Max(1, replicas / trainers);
            // Every trial's job exists (Submitted) before any is published: an uploaded archive is kept until the last of
            // them has ingested it (SubmitDatasetConsumer deletes an upload only when no other job still waits for it).
            var id = Guid.NewGuid();
            var now = DateTimeOffset.UtcNow;
            var submissions = plan.Trials.Select(t => new SubmitDataset(Guid.NewGuid(), source!, plan.Task, request.Format, t.RecipeJson, trainers, now)).ToList();
            var sweep = await sweeps.CreateAsync(id, plan, submissions[0], parallel, request.SweepYaml, submissions.Select(s => s.JobId).ToList(), cancellationToken)
                .ConfigureAwait(false);
            foreach (var submission in submissions) await jobs.CreateAsync(submission, cancellationToken).ConfigureAwait(false);
            await sweeps.SubmitDueTrialsAsync(id, s => bus.Publish(s, cancellationToken), cancellationToken).ConfigureAwait(false);
            return Results.Accepted($"/api/sweeps/{id}", View(sweep));
        });

        api.MapGet("/", async (SweepRegistry sweeps, int? limit, CancellationToken cancellationToken) =>
            Results.Ok((await sweeps.ListAsync(Math.Clamp(limit ?? 100, 1, 1000), cancellationToken).ConfigureAwait(false)).Select(View)));

        api.MapGet("/{id:guid}", async (Guid id, SweepRegistry sweeps, CancellationToken cancellationToken) =>
            await sweeps.GetAsync(id, cancellationToken).ConfigureAwait(false) is { } sweep ? Results.Ok(Detail(sweep)) : NoSuchSweep(id));

        api.MapPost("/{id:guid}/cancel", async (Guid id, SweepRegistry sweeps, JobRegistry jobs, IPublishEndpoint bus, JobArtifacts artifacts,
            CancellationToken cancellationToken) =>
        {
            if (await sweeps.GetAsync(id, cancellationToken).ConfigureAwait(false) is not { } sweep) return NoSuchSweep(id);
            var running = await sweeps.CancelAsync(id, "cancelled by the user", cancellationToken).ConfigureAwait(false);
            if (running is null) return Results.Conflict(new { error = $"sweep {id} is already {sweep.State}" });
            foreach (var job in running)
                await JobsApi.CancelAsync(job, $"sweep {id} was cancelled by the user", jobs, bus, artifacts, cancellationToken).ConfigureAwait(false);
            return Results.Accepted($"/api/sweeps/{id}");
        });
    }

    // The sweep's task is needed before the dataset is read: every trial's recipe is checked now, under its task.
    private static SweepPlan Plan(SubmitSweepRequest request)
    {
        const string source = "sweep";
        var spec = SweepSpec.Parse(request.SweepYaml!, source);
        if (spec.RecipeFile is { } file)
            throw new RecipeException(source, "recipe", $"names the file '{file}': a submitted sweep must be self-contained (pipeline submit --sweep inlines it; or send the recipe as recipeYaml)");
        if (spec.InlineRecipe is not null && !string.IsNullOrWhiteSpace(request.RecipeYaml))
            throw new RecipeException(source, "recipe", "the sweep has its own recipe and recipeYaml was sent too: give the recipe once");
        var baseRecipe = spec.InlineRecipe?.ToJsonString() ?? request.RecipeYaml;
        var task = request.Task ?? RecipeLoader.DeclaredTask(baseRecipe, "recipe")
            ?? throw new RecipeException(source, null, "a sweep needs its task before the dataset is read: give task (classify or detect), or a recipe with a task key");
        if (task is not ("classify" or "detect")) throw new RecipeException(source, null, $"task '{task}' is unknown (known: classify, detect)");
        return SweepPlanner.Plan(spec, task, baseRecipe, source);
    }

    private static IResult NoSuchSweep(Guid id) => Results.Problem($"sweep {id} does not exist", statusCode: 404);

    public static SweepView View(SweepRecord sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var best = sweep.Trials.FirstOrDefault(t => t.Number == sweep.BestTrial);
        return new SweepView(sweep.Id, sweep.State.ToString(), sweep.Task, sweep.Source, sweep.Metric, sweep.Mode, sweep.Search, sweep.AshaMinEpochs is not null,
            sweep.Trials.Count, sweep.Trials.Count(t => t.State.IsTerminal()), sweep.Trials.Count(t => t.StoppedEarly), best?.Number, best?.JobId, best?.BestValue,
            sweep.Reason, sweep.CreatedAt, sweep.UpdatedAt);
    }

    public static SweepDetail Detail(SweepRecord sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var trials = sweep.Trials.OrderBy(t => t.Number).Select(t => new TrialView(t.Number, t.JobId, Values(t), t.State.ToString(), t.Epochs, t.EpochsDone,
            t.BestValue, t.BestEpoch, t.StoppedEarly, t.StopReason,
            (JsonSerializer.Deserialize<List<double[]>>(t.CurveJson, Json) ?? []).Select(p => new CurvePoint((int)p[0], p[1])).ToList(),
            t.TestJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, double>>(t.TestJson, Json))).ToList();
        var best = sweep.Trials.FirstOrDefault(t => t.Number == sweep.BestTrial) is { BestValue: { } value } b
            ? new BestTrialView(b.Number, b.JobId, Values(b), value, b.RecipeJson)
            : null;
        return new SweepDetail(View(sweep), JsonSerializer.Deserialize<List<string>>(sweep.KeysJson, Json) ?? [], trials,
            sweep.Events.OrderBy(e => e.Id).Select(e => new SweepEventView(e.At, e.Kind, e.Text)).ToList(), best);
    }

    private static Dictionary<string, JsonNode?> Values(SweepTrialRecord trial) =>
        (JsonNode.Parse(trial.ValuesJson) as JsonObject ?? []).ToDictionary(kv => kv.Key, kv => kv.Value?.DeepClone(), StringComparer.Ordinal);
}
