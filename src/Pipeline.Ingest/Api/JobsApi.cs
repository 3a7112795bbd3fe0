using MassTransit;
using Microsoft.AspNetCore.Http.Features;
using Pipeline.Artifacts;
using Pipeline.ServiceDefaults;
using Pipeline.Storage;
using Pipeline.Contracts.V1;
using Pipeline.Ingest.Registry;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;

namespace Pipeline.Ingest.Api;

/// <summary>Submit, list, inspect and cancel jobs.</summary>
public static class JobsApi
{
    /// <summary>A submission over HTTP: a dataset at a path this service can read (<paramref name="Path"/>), or an
    /// uploaded archive (<paramref name="Source"/> as <c>POST /api/uploads</c> returned it).</summary>
    public sealed record SubmitRequest(string? Path, string? Task, string? Format, string? RecipeYaml, int? Trainers, string? Source = null);

    public sealed record JobView(
        Guid Id, string State, string Task, string Source, string? Reason, string? DatasetId, int Trainers,
        DateTime CreatedAt, DateTime UpdatedAt, int? Epoch, long? Step, long? TotalSteps, int? BestEpoch);

    public sealed record JobDetail(JobView Job, IReadOnlyList<EventView> Events, IReadOnlyList<MetricView> Metrics);
    public sealed record EventView(DateTime At, string Kind, string Payload);
    public sealed record MetricView(string Name, string Split, int Rank, int Epoch, long Step, double Value);

    /// <summary>One stored artifact of a job: <c>reports/test.json</c>, <c>model/best.safetensors</c>, or the
    /// dataset's files under <c>dataset/</c> (<c>dataset/report.json</c>); the raw images are left out.</summary>
    public sealed record ArtifactView(string Name, long Length, DateTimeOffset LastModified, string? ContentType);

    private const string DatasetPrefix = "dataset/";

    /// <summary>The largest data-parallel group a job may ask for.</summary>
    public const int MaxTrainers = 64;

    /// <summary>How many trainer replicas the system runs (set by the AppHost); submissions asking for more are refused.</summary>
    public const string TrainerReplicasVariable = "PIPELINE_TRAINER_REPLICAS";

    public static void MapJobsApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup("/api/jobs");

        api.MapPost("/", async (SubmitRequest request, IPublishEndpoint bus, JobRegistry registry, DatasetRoots roots, IArtifactStore store,
            IConfiguration configuration, CancellationToken cancellationToken) =>
        {
            var (source, problem) = await CheckSourceAsync(request.Path, request.Source, roots, store, cancellationToken).ConfigureAwait(false);
            if (problem is not null) return problem;
            var trainers = request.Trainers ?? 1;
            if ((CheckTrainers(trainers, configuration) ?? CheckFormat(request.Format)) is { } refused) return refused;
            var task = request.Task ?? SubmitDataset.AutoTask;
            if (task is not ("classify" or "detect" or SubmitDataset.AutoTask))
                return Results.Problem($"task '{task}' is unknown (known: classify, detect, {SubmitDataset.AutoTask})", statusCode: 400);
            // A recipe that cannot run is refused now rather than after ingest and preprocessing.
            try
            {
                // Left to the dataset, the task is the recipe's when it names one, else the format's (checked after ingest).
                if (task == SubmitDataset.AutoTask) task = RecipeLoader.DeclaredTask(request.RecipeYaml, "recipe") ?? task;
                if (task != SubmitDataset.AutoTask) TaskRecipes.LoadText(task, request.RecipeYaml, "recipe");
            }
            catch (RecipeException e)
            {
                return Results.Problem(e.Message, statusCode: 400);
            }
            var submission = new SubmitDataset(Guid.NewGuid(), source!, task, request.Format, request.RecipeYaml, trainers, DateTimeOffset.UtcNow);
            var job = await registry.CreateAsync(submission, cancellationToken).ConfigureAwait(false);
            await bus.Publish(submission, cancellationToken).ConfigureAwait(false);
            return Results.Accepted($"/api/jobs/{job.Id}", View(job));
        });

        api.MapGet("/", async (JobRegistry registry, int? limit, CancellationToken cancellationToken) =>
            Results.Ok((await registry.ListAsync(Math.Clamp(limit ?? 100, 1, 1000), cancellationToken).ConfigureAwait(false)).Select(View)));

        api.MapGet("/{id:guid}", async (Guid id, JobRegistry registry, CancellationToken cancellationToken) =>
        {
            var job = await registry.GetAsync(id, withHistory: true, cancellationToken).ConfigureAwait(false);
            if (job is null) return NoSuchJob(id);
            return Results.Ok(new JobDetail(View(job),
                job.Events.OrderBy(e => e.Id).Select(e => new EventView(e.At, e.Kind, e.PayloadJson)).ToList(),
                job.Metrics.OrderBy(m => m.Id).Select(m => new MetricView(m.Name, m.Split, m.Rank, m.Epoch, m.Step, m.Value)).ToList()));
        });

        api.MapPost("/{id:guid}/cancel", async (Guid id, JobRegistry registry, IPublishEndpoint bus, JobArtifacts artifacts, CancellationToken cancellationToken) =>
        {
            var job = await registry.GetAsync(id, withHistory: false, cancellationToken).ConfigureAwait(false);
            if (job is null) return NoSuchJob(id);
            if (job.State.IsTerminal()) return Results.Conflict(new { error = $"job {id} is already {job.State}" });
            await CancelAsync(id, "cancelled by the user", registry, bus, artifacts, cancellationToken).ConfigureAwait(false);
            return Results.Accepted($"/api/jobs/{id}");
        });

        api.MapGet("/{id:guid}/artifacts", async (Guid id, JobRegistry registry, IArtifactStore store, CancellationToken cancellationToken) =>
        {
            var job = await registry.GetAsync(id, withHistory: false, cancellationToken).ConfigureAwait(false);
            if (job is null) return NoSuchJob(id);
            var found = new List<ArtifactView>();
            await ListAsync(store, JobArtifacts.Container, $"{id:N}/", "", found, cancellationToken).ConfigureAwait(false);
            if (job.DatasetId is { } dataset)
                await ListAsync(store, DatasetIngestor.Container, $"{dataset}/", DatasetPrefix, found, cancellationToken).ConfigureAwait(false);
            return Results.Ok(found.Where(a => !a.Name.StartsWith(DatasetPrefix + "raw/", StringComparison.Ordinal)));
        });

        api.MapGet("/{id:guid}/artifacts/{**name}", async (Guid id, string name, JobRegistry registry, IArtifactStore store, CancellationToken cancellationToken) =>
        {
            if (ArtifactNameProblem(name) is { } problem) return Results.Problem(problem, statusCode: 400);
            var job = await registry.GetAsync(id, withHistory: false, cancellationToken).ConfigureAwait(false);
            if (job is null) return NoSuchJob(id);
            var (container, blob) = name.StartsWith(DatasetPrefix, StringComparison.Ordinal)
                ? (DatasetIngestor.Container, job.DatasetId is { } ds ? $"{ds}/{name[DatasetPrefix.Length..]}" : null)
                : (JobArtifacts.Container, $"{id:N}/{name}");
            if (blob is null || await store.GetPropertiesAsync(container, blob, cancellationToken).ConfigureAwait(false) is not { } properties)
                return Results.Problem($"job {id} has no artifact '{name}' (GET /api/jobs/{id}/artifacts lists them)", statusCode: 404);
            var content = await store.DownloadAsync(container, blob, null, cancellationToken).ConfigureAwait(false);
            return Results.Stream(content, properties.ContentType ?? "application/octet-stream", Path.GetFileName(name), properties.LastModified);
        });
    }

    /// <summary>Cancels a job: marked in the store first (so no stage starts it again), then the trainers are told and the
    /// registry records it.</summary>
    public static async Task CancelAsync(Guid id, string reason, JobRegistry registry, IPublishEndpoint bus, JobArtifacts artifacts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(artifacts);
        await artifacts.MarkCancelledAsync(id, reason, cancellationToken).ConfigureAwait(false);
        await bus.Publish(new CancelJob(id, reason), cancellationToken).ConfigureAwait(false);
        var change = await registry.TransitionAsync(id, JobState.Cancelled, reason, null, cancellationToken).ConfigureAwait(false);
        if (change is not null) await bus.Publish(change, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The source a submission names (<c>path:</c> a dataset under the service's dataset folders, or an upload
    /// that exists), or the problem to answer with. Refused now: a source ingest cannot open would only fail the job after
    /// its retries.</summary>
    public static async Task<(string? Source, IResult? Problem)> CheckSourceAsync(string? path, string? upload, DatasetRoots roots, IArtifactStore store,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(roots);
        ArgumentNullException.ThrowIfNull(store);
        if (upload is { Length: > 0 } given)
        {
            if (!UploadsApi.IsUploadSource(given))
                return (null, Results.Problem($"source '{given}' is not an upload (expected {UploadsApi.SourcePrefix}<id>/<name>, as POST /api/uploads returns it)", statusCode: 400));
            if (await store.GetPropertiesAsync(UploadsApi.Container, given[UploadsApi.SourcePrefix.Length..], cancellationToken).ConfigureAwait(false) is null)
                return (null, Results.Problem($"source '{given}': no such upload (upload the archive with POST /api/uploads first; an upload is deleted once a job has ingested it, or after a day unused)", statusCode: 400));
            return (given, null);
        }
        if (string.IsNullOrWhiteSpace(path))
            return (null, Results.Problem("give 'source' (an upload, as POST /api/uploads returns it) or 'path' (a folder or archive under the service's dataset folders)", statusCode: 400));
        if (roots.Refusal(path) is { } refusal) return (null, Results.Problem(refusal, statusCode: 400));
        return ("path:" + path, null);
    }

    /// <summary>The problem with a group of <paramref name="trainers"/>, or null.</summary>
    public static IResult? CheckTrainers(int trainers, IConfiguration configuration)
    {
        if (trainers is < 1 or > MaxTrainers) return Results.Problem($"trainers must be between 1 and {MaxTrainers}, got {trainers}", statusCode: 400);
        // A group larger than the trainer replicas can never form: its leader would wait for members that do not exist.
        if (configuration.GetValue<int?>(TrainerReplicasVariable) is { } replicas && trainers > replicas)
            return Results.Problem($"trainers {trainers} is more than the {replicas} trainer replicas this system runs (at most {replicas})", statusCode: 400);
        return null;
    }

    /// <summary>The problem with a named dataset format, or null (none named: ingest recognises it).</summary>
    public static IResult? CheckFormat(string? format) =>
        format is not null && !DatasetLoader.Formats.Any(f => f.Name.Equals(format, StringComparison.OrdinalIgnoreCase))
            ? Results.Problem($"format '{format}' is unknown (known: {string.Join(", ", DatasetLoader.Formats.Select(f => f.Name))}, or leave it out to recognise it)", statusCode: 400)
            : null;

    private static IResult NoSuchJob(Guid id) => Results.Problem($"job {id} does not exist", statusCode: 404);

    /// <summary>Why an artifact name is refused, or null. Names are relative blob paths as the listing shows them:
    /// letters, digits, spaces and <c>. _ - + @ = , ( ) [ ]</c> between slashes. A backslash, control character or URL
    /// syntax (<c>% ? # :</c>) never names an artifact and must not reach the store.</summary>
    public static string? ArtifactNameProblem(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length > 1024) return $"artifact name is {name.Length} characters long, over the limit of 1024";
        var odd = name.FirstOrDefault(c => !(char.IsLetterOrDigit(c) || c is '/' or ' ' or '.' or '_' or '-' or '+' or '@' or '=' or ',' or '(' or ')' or '[' or ']'));
        if (odd != default)
            return $"artifact name '{Printable(name)}' has the character '{Printable(odd.ToString())}' (U+{(int)odd:X4}); names are letters, digits, spaces and . _ - + @ = , ( ) [ ] between slashes";
        if (name.Split('/').Any(part => part is "" or "." or ".."))
            return $"artifact name '{name}' must be a relative path without empty, '.' or '..' parts";
        return null;
    }

    // Control characters are shown escaped, so the answer stays one readable line.
    private static string Printable(string text) =>
        string.Concat(text.Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));

    private static async Task ListAsync(IArtifactStore store, string container, string prefix, string shownAs, List<ArtifactView> into, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var blob in store.ListAsync(container, prefix, cancellationToken).ConfigureAwait(false))
                into.Add(new ArtifactView(shownAs + blob.Name[prefix.Length..], blob.Length, blob.LastModified, blob.ContentType));
        }
        catch (ArtifactNotFoundException)
        {
            // The container does not exist yet: the job has stored nothing there.
        }
    }

    /// <summary>
    /// <c>POST /api/jobs/{id}/predict</c>: the image in the body is passed to the evaluator, which serves the job's best
    /// model; the CLI and the dashboard need to know only this service.
    /// </summary>
    public static void MapPredictProxy(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/api/jobs/{id:guid}/predict", async (Guid id, HttpContext context, IHttpClientFactory clients, IConfiguration configuration, CancellationToken cancellationToken) =>
        {
            var evaluator = configuration["services:evaluator:http:0"];
            if (string.IsNullOrEmpty(evaluator))
                return Results.Problem("no evaluator is configured (services__evaluator__http__0); predictions need the evaluator service", statusCode: 503);
            // The evaluator's own body limit (the same variable and default), so that a larger image is refused here with
            // the same 413 rather than by Kestrel's default of 30 MB.
            var maxBytes = PredictionLimits.From(configuration).MaxBytes;
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = maxBytes;
            if (context.Request.ContentLength is { } declared && declared > maxBytes)
                return Results.Problem($"the image is {declared} bytes, over the limit of {maxBytes} bytes ({PredictionLimits.BytesVariable})", statusCode: 413);
            // Relative to the client's base address, http://evaluator, which service discovery resolves.
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/predict/{id}{context.Request.QueryString}", UriKind.Relative))
            {
                Content = new StreamContent(context.Request.Body),
            };
            if (context.Request.ContentType is { } type) request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            if (context.Request.ContentLength is { } length) request.Content.Headers.ContentLength = length;
            // The caller's key, in whichever header it came (the middleware has checked it): the evaluator checks it again.
            if (context.Request.Headers.TryGetValue("X-Api-Key", out var key)) request.Headers.TryAddWithoutValidation("X-Api-Key", key.ToString());
            else if (context.Request.Headers.Authorization.ToString() is { Length: > 0 } bearer) request.Headers.TryAddWithoutValidation("Authorization", bearer);
            HttpResponseMessage response;
            try
            {
                response = await clients.CreateClient("evaluator").SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException { InnerException: not BadHttpRequestException }
                or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException)
            {
                return Results.Problem($"the evaluator ({evaluator}) did not answer; predictions need it running", statusCode: 503);
            }
            using (response)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                return Results.Content(body, response.Content.Headers.ContentType?.ToString() ?? "application/json", statusCode: (int)response.StatusCode);
            }
        });
    }

    public static JobView View(JobRecord job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return new JobView(job.Id, job.State.ToString(), job.Task, job.Source, job.Reason, job.DatasetId, job.Trainers, job.CreatedAt, job.UpdatedAt,
            job.Epoch, job.Step, job.TotalSteps, job.BestEpoch);
    }
}
