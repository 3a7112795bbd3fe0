using MassTransit;
using Pipeline.Contracts.V1;
using Pipeline.Artifacts;
using Pipeline.Ingest.Registry;
using Pipeline.Storage;
using Pipeline.Training.Recipes;

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

    public static void MapJobsApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup("/api/jobs");

        api.MapPost("/", async (SubmitRequest request, IPublishEndpoint bus, JobRegistry registry, CancellationToken cancellationToken) =>
        {
            string source;
            if (request.Source is { Length: > 0 } given)
            {
                if (!given.StartsWith(UploadsApi.SourcePrefix, StringComparison.Ordinal))
                    return Results.Problem($"source '{given}' is not an upload (expected {UploadsApi.SourcePrefix}..., as POST /api/uploads returns)", statusCode: 400);
                source = given;
            }
            else if (string.IsNullOrWhiteSpace(request.Path) || !Path.IsPathFullyQualified(request.Path))
                return Results.Problem($"path '{request.Path}' must be an absolute path the ingest service can read", statusCode: 400);
            else source = "path:" + request.Path;
            var trainers = request.Trainers ?? 1;
            if (trainers is < 1 or > 64) return Results.Problem($"trainers must be between 1 and 64, got {trainers}", statusCode: 400);
            var task = request.Task ?? "classify";
            if (task is not ("classify" or "detect")) return Results.Problem($"task '{task}' is unknown (known: classify, detect)", statusCode: 400);
            // A recipe that cannot run is refused now rather than after ingest and preprocessing.
            try
            {
                RecipeLoader.LoadText(request.RecipeYaml ?? "", "recipe", [$"task={task}"]);
            }
            catch (RecipeException e)
            {
                return Results.Problem(e.Message, statusCode: 400);
            }
            var submission = new SubmitDataset(Guid.NewGuid(), source, task, request.Format, request.RecipeYaml, trainers, DateTimeOffset.UtcNow);
            var job = await registry.CreateAsync(submission, cancellationToken).ConfigureAwait(false);
            await bus.Publish(submission, cancellationToken).ConfigureAwait(false);
            return Results.Accepted($"/api/jobs/{job.Id}", View(job));
        });

        api.MapGet("/", async (JobRegistry registry, int? limit, CancellationToken cancellationToken) =>
            Results.Ok((await registry.ListAsync(Math.Clamp(limit ?? 100, 1, 1000), cancellationToken).ConfigureAwait(false)).Select(View)));

        api.MapGet("/{id:guid}", async (Guid id, JobRegistry registry, CancellationToken cancellationToken) =>
        {
            var job = await registry.GetAsync(id, withHistory: true, cancellationToken).ConfigureAwait(false);
            if (job is null) return Results.NotFound();
            return Results.Ok(new JobDetail(View(job),
                job.Events.OrderBy(e => e.Id).Select(e => new EventView(e.At, e.Kind, e.PayloadJson)).ToList(),
                job.Metrics.OrderBy(m => m.Id).Select(m => new MetricView(m.Name, m.Split, m.Rank, m.Epoch, m.Step, m.Value)).ToList()));
        });

        api.MapPost("/{id:guid}/cancel", async (Guid id, JobRegistry registry, IPublishEndpoint bus, JobArtifacts artifacts, CancellationToken cancellationToken) =>
        {
            var job = await registry.GetAsync(id, withHistory: false, cancellationToken).ConfigureAwait(false);
            if (job is null) return Results.NotFound();
            if (job.State.IsTerminal()) return Results.Conflict(new { error = $"job {id} is already {job.State}" });
            await artifacts.MarkCancelledAsync(id, "cancelled by the user", cancellationToken).ConfigureAwait(false);
            await bus.Publish(new CancelJob(id, "cancelled by the user"), cancellationToken).ConfigureAwait(false);
            var change = await registry.TransitionAsync(id, JobState.Cancelled, "cancelled by the user", null, cancellationToken).ConfigureAwait(false);
            if (change is not null) await bus.Publish(change, cancellationToken).ConfigureAwait(false);
            return Results.Accepted($"/api/jobs/{id}");
        });
    }

    /// <summary>A stored file of a job: its name relative to the job (as the download route takes it) and its size.</summary>
    public sealed record ArtifactView(string Name, long Bytes, DateTimeOffset LastModified);

    /// <summary>The dataset's validation report is listed with the job's files under this name.</summary>
    public const string DatasetReportArtifact = "dataset/report.json";

    /// <summary>Lists and streams a job's artifacts: checkpoints, the best model, reports, and the dataset report.</summary>
    public static void MapArtifactsApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup("/api/jobs/{id:guid}/artifacts");

        api.MapGet("/", async (Guid id, JobRegistry registry, IArtifactStore store, CancellationToken cancellationToken) =>
        {
            var job = await registry.GetAsync(id, withHistory: false, cancellationToken).ConfigureAwait(false);
            if (job is null) return Results.NotFound();
            var list = new List<ArtifactView>();
            var prefix = $"{id:N}/";
            await store.CreateContainerIfMissingAsync(JobArtifacts.Container, cancellationToken).ConfigureAwait(false);
            await foreach (var blob in store.ListAsync(JobArtifacts.Container, prefix, cancellationToken).ConfigureAwait(false))
                list.Add(new ArtifactView(blob.Name[prefix.Length..], blob.Length, blob.LastModified));
            if (job.DatasetId is { } dataset && await store.GetPropertiesAsync(DatasetIngestor.Container, $"{dataset}/report.json", cancellationToken).ConfigureAwait(false) is { } report)
                list.Add(new ArtifactView(DatasetReportArtifact, report.Length, report.LastModified));
            return Results.Ok(list);
        });

        api.MapGet("/{**name}", async (Guid id, string name, JobRegistry registry, IArtifactStore store, CancellationToken cancellationToken) =>
        {
            var job = await registry.GetAsync(id, withHistory: false, cancellationToken).ConfigureAwait(false);
            if (job is null) return Results.NotFound();
            if (name.Split('/').Any(part => part is "" or "." or ".."))
                return Results.Problem($"artifact name '{name}' is not a plain relative path", statusCode: 400);
            var (container, blob) = name == DatasetReportArtifact && job.DatasetId is { } dataset
                ? (DatasetIngestor.Container, $"{dataset}/report.json")
                : (JobArtifacts.Container, $"{id:N}/{name}");
            var properties = await store.GetPropertiesAsync(container, blob, cancellationToken).ConfigureAwait(false);
            if (properties is null) return Results.NotFound();
            var stream = await store.DownloadAsync(container, blob, null, cancellationToken).ConfigureAwait(false);
            return Results.Stream(stream, properties.ContentType ?? "application/octet-stream", fileDownloadName: Path.GetFileName(name));
        });
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
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(evaluator), $"/predict/{id}{context.Request.QueryString}"))
            {
                Content = new StreamContent(context.Request.Body),
            };
            if (context.Request.ContentType is { } type) request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            if (context.Request.Headers.TryGetValue("X-Api-Key", out var key)) request.Headers.TryAddWithoutValidation("X-Api-Key", key.ToString());
            using var response = await clients.CreateClient("evaluator").SendAsync(request, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return Results.Content(body, response.Content.Headers.ContentType?.ToString() ?? "application/json", statusCode: (int)response.StatusCode);
        });
    }

    public static JobView View(JobRecord job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return new JobView(job.Id, job.State.ToString(), job.Task, job.Source, job.Reason, job.DatasetId, job.Trainers, job.CreatedAt, job.UpdatedAt,
            job.Epoch, job.Step, job.TotalSteps, job.BestEpoch);
    }
}
