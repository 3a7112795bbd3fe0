using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Pipeline.Hosting;

/// <summary>The AppHost's dashboard: Kestrel in the AppHost process on its own port. Every page and API needs
/// the run's token (from /login?t=TOKEN, kept in an HttpOnly cookie, or as a Bearer header); without it: 401
/// and no data. Resources and logs come from the registry and the log rings; jobs from the jobs API, called
/// here with its key; metrics from Prometheus' query API.</summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private readonly DistributedApplication app;
    private readonly DashboardOptions options;
    private readonly byte[] token;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(30) };
    // Browser requests passed to the jobs API: an upload takes as long as it takes; the browser leaving cancels it.
    private readonly HttpClient proxy = new() { Timeout = Timeout.InfiniteTimeSpan };
    private WebApplication? web;

    internal DashboardServer(DistributedApplication app, DashboardOptions options)
    {
        this.app = app;
        this.options = options;
        Token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        token = Encoding.ASCII.GetBytes(Token);
        Port = options.Port != 0 ? options.Port : PortAllocator.Next();
    }

    public string Token { get; }
    public int Port { get; }
    public Uri Url => new($"http://127.0.0.1:{Port}/");

    /// <summary>Per port: browsers share cookies across the ports of a host, and several AppHosts may run on one.</summary>
    public string CookieName => $"pipeline-dashboard-{Port}";

    /// <summary>What the AppHost prints: opening it logs the browser in.</summary>
    public Uri LoginUrl => new(Url, "login?t=" + Token);

    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        // Production whatever the AppHost's own environment: no developer exception page (it echoes request headers).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders(); // the AppHost's console is for resource states
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>(); // the AppHost handles Ctrl+C itself
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port, l => l.Protocols = HttpProtocols.Http1));
        web = builder.Build();
        web.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = InternalErrorAsync });
        web.Use(AuthorizeAsync);
        Map(web);
        await web.StartAsync(cancellationToken);
    }

    internal async Task StopAsync()
    {
        if (web is null)
        {
            return;
        }
        // Stopping ends the event streams (they watch ApplicationStopping), then Kestrel drains.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await web.StopAsync(timeout.Token);
        await web.DisposeAsync();
        web = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        http.Dispose();
        proxy.Dispose();
    }

    /// <summary>An unexpected failure of the dashboard itself: a problem with a trace id, never the exception's text.</summary>
    private static async Task InternalErrorAsync(HttpContext context)
    {
        var traceId = System.Diagnostics.Activity.Current?.TraceId.ToString() ?? context.TraceIdentifier;
        context.Response.StatusCode = StatusCodes.Status500InternalServerError;
        await context.Response.WriteAsJsonAsync(
            new { type = "https://tools.ietf.org/html/rfc9110#section-15.6.1", title = "Internal error", status = 500, detail = $"internal error of the dashboard (trace id {traceId})", traceId },
            (JsonSerializerOptions?)null, "application/problem+json");
    }

    private bool Matches(string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(token, Encoding.ASCII.GetBytes(presented));

    private async Task AuthorizeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (request.Path == "/login")
        {
            if (Matches(request.Query["t"].ToString()))
            {
                context.Response.Cookies.Append(CookieName, Token, new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Strict,
                    Path = "/",
                    IsEssential = true,
                });
                context.Response.Redirect("/");
                return;
            }
        }
        else
        {
            var bearer = request.Headers.Authorization.ToString();
            if (Matches(request.Cookies[CookieName]) || (bearer.StartsWith("Bearer ", StringComparison.Ordinal) && Matches(bearer["Bearer ".Length..])))
            {
                await next(context);
                return;
            }
        }
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync("401: open the dashboard through the login link the AppHost printed (http://127.0.0.1:PORT/login?t=TOKEN).\n");
    }

    private void Map(WebApplication w)
    {
        w.MapGet("/", () => Asset("index.html", "text/html; charset=utf-8"));
        w.MapGet("/assets/{name}", (string name) => Asset(name, name.EndsWith(".css", StringComparison.Ordinal) ? "text/css" : "text/javascript"));

        w.MapGet("/api/resources", () => Results.Json(app.Resources.Snapshots, Json));
        w.MapGet("/api/resources/{instance}/logs", (string instance) =>
            Exists(instance) ? Results.Json(app.Logs[instance].Snapshot(), Json) : Results.NotFound());
        w.MapGet("/api/resources/{instance}/logs/events", LogEventsAsync);
        w.MapGet("/api/events", EventsAsync);

        w.MapGet("/api/config", () => Results.Json(new
        {
            jobs = options.JobsApiResource is not null,
            metrics = options.MetricsResource is not null,
            datasets = options.BundledDatasets.Where(d => Directory.Exists(d.Value)).Select(d => new { name = d.Key, path = d.Value }),
        }, Json));

        w.MapGet("/api/jobs", (HttpContext c) => ProxyAsync(c, HttpMethod.Get, "api/jobs"));
        w.MapPost("/api/jobs", (HttpContext c) => ProxyAsync(c, HttpMethod.Post, "api/jobs"));
        w.MapPost("/api/uploads", (HttpContext c) =>
        {
            // An archive of any size streams through to the ingest service, which enforces its own upload limit.
            if (c.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
            return ProxyAsync(c, HttpMethod.Post, "api/uploads");
        });
        w.MapGet("/api/jobs/{id:guid}", (HttpContext c, Guid id) => ProxyAsync(c, HttpMethod.Get, $"api/jobs/{id}"));
        w.MapPost("/api/jobs/{id:guid}/cancel", (HttpContext c, Guid id) => ProxyAsync(c, HttpMethod.Post, $"api/jobs/{id}/cancel"));
        w.MapGet("/api/jobs/{id:guid}/artifacts", (HttpContext c, Guid id) => ProxyAsync(c, HttpMethod.Get, $"api/jobs/{id}/artifacts"));
        w.MapGet("/api/jobs/{id:guid}/artifacts/{**name}", (HttpContext c, Guid id, string name) =>
            ProxyAsync(c, HttpMethod.Get, $"api/jobs/{id}/artifacts/{string.Join('/', name.Split('/').Select(Uri.EscapeDataString))}"));
        w.MapGet("/api/jobs/{id:guid}/events", JobEventsAsync);

        w.MapGet("/api/metrics", MetricsAsync);
    }

    private static IResult Asset(string name, string contentType)
    {
        var stream = typeof(DashboardServer).Assembly.GetManifestResourceStream("dashboard/" + name);
        return stream is null ? Results.NotFound() : Results.Stream(stream, contentType);
    }

    private bool Exists(string instance) => app.Resources.Snapshots.Any(s => s.InstanceName == instance);

    // --- server-sent events --------------------------------------------------------------------------

    private static CancellationTokenSource StreamCancellation(HttpContext context) =>
        CancellationTokenSource.CreateLinkedTokenSource(
            context.RequestAborted, context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);

    private static async Task BeginEventsAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static async Task SendAsync(HttpContext context, string kind, string json, CancellationToken cancellationToken)
    {
        await context.Response.WriteAsync($"event: {kind}\ndata: {json}\n\n", cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }

    /// <summary>Resource snapshots (all, then each change) and the job list whenever it changes.</summary>
    private async Task EventsAsync(HttpContext context)
    {
        using var stop = StreamCancellation(context);
        var events = Channel.CreateUnbounded<(string Kind, string Json)>(new UnboundedChannelOptions { SingleReader = true });
        var resources = Task.Run(async () =>
        {
            await foreach (var s in app.Resources.WatchAsync(stop.Token))
            {
                events.Writer.TryWrite(("resource", JsonSerializer.Serialize(s, Json)));
            }
        }, stop.Token);
        var jobs = options.JobsApiResource is null ? Task.CompletedTask : Task.Run(() => PollJobsAsync(events.Writer, stop.Token), stop.Token);
        await BeginEventsAsync(context);
        try
        {
            while (true)
            {
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                heartbeat.CancelAfter(TimeSpan.FromSeconds(15));
                try
                {
                    var (kind, json) = await events.Reader.ReadAsync(heartbeat.Token);
                    await SendAsync(context, kind, json, stop.Token);
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                {
                    // Keeps proxies and the browser from timing out an idle stream.
                    await context.Response.WriteAsync(": ping\n\n", stop.Token);
                    await context.Response.Body.FlushAsync(stop.Token);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The browser left or the AppHost is stopping.
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(resources, jobs).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task PollJobsAsync(ChannelWriter<(string, string)> events, CancellationToken cancellationToken)
    {
        string? last = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (await GetJobsApiAsync("api/jobs", cancellationToken) is { } list && list != last)
            {
                last = list;
                events.TryWrite(("jobs", list));
            }
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }
    }

    /// <summary>One job's detail (state, events, metrics history) each time it changes.</summary>
    private async Task JobEventsAsync(HttpContext context, Guid id)
    {
        using var stop = StreamCancellation(context);
        await BeginEventsAsync(context);
        string? last = null;
        try
        {
            while (true)
            {
                if (await GetJobsApiAsync($"api/jobs/{id}", stop.Token) is { } detail && detail != last)
                {
                    last = detail;
                    await SendAsync(context, "job", detail, stop.Token);
                }
                await Task.Delay(TimeSpan.FromSeconds(1.5), stop.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The browser left or the AppHost is stopping.
        }
    }

    /// <summary>The retained console lines of one instance, then each new one.</summary>
    private async Task LogEventsAsync(HttpContext context, string instance)
    {
        if (!Exists(instance))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        using var stop = StreamCancellation(context);
        await BeginEventsAsync(context);
        try
        {
            await foreach (var line in app.Logs[instance].WatchAsync(stop.Token))
            {
                await SendAsync(context, "log", JsonSerializer.Serialize(line, Json), stop.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The browser left or the AppHost is stopping.
        }
    }

    // --- the jobs API, called with its key -----------------------------------------------------------

    private Uri? JobsApiBase()
    {
        if (options.JobsApiResource is not { } name)
        {
            return null;
        }
        var url = app.GetEndpoint(name).ToString();
        return new Uri(url.EndsWith('/') ? url : url + "/");
    }

    private HttpRequestMessage JobsApiRequest(HttpMethod method, Uri baseUri, string pathAndQuery)
    {
        var request = new HttpRequestMessage(method, new Uri(baseUri, pathAndQuery));
        request.Headers.Add("X-Api-Key", options.JobsApiKey);
        return request;
    }

    /// <summary>The body of a GET, or null while the API is not up (the dashboard retries).</summary>
    private async Task<string?> GetJobsApiAsync(string path, CancellationToken cancellationToken)
    {
        if (JobsApiBase() is not { } baseUri)
        {
            return null;
        }
        try
        {
            using var request = JobsApiRequest(HttpMethod.Get, baseUri, path);
            using var response = await http.SendAsync(request, cancellationToken);
            return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync(cancellationToken) : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private async Task ProxyAsync(HttpContext context, HttpMethod method, string path)
    {
        if (JobsApiBase() is not { } baseUri)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsync("This AppHost has no jobs API.");
            return;
        }
        using var request = JobsApiRequest(method, baseUri, path + context.Request.QueryString);
        if (method == HttpMethod.Post)
        {
            request.Content = new StreamContent(context.Request.Body);
            if (context.Request.ContentType is { } type)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            }
            request.Content.Headers.ContentLength = context.Request.ContentLength;
        }
        try
        {
            using var response = await proxy.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
            context.Response.StatusCode = (int)response.StatusCode;
            // Only these two of the upstream's headers pass: any other could carry what the request carried (the key).
            if (response.Content.Headers.ContentType is { } contentType)
            {
                context.Response.ContentType = contentType.ToString();
            }
            if (response.Content.Headers.ContentDisposition is { } disposition)
            {
                context.Response.Headers.ContentDisposition = disposition.ToString();
            }
            if (response.IsSuccessStatusCode)
            {
                await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
            }
            else
            {
                // An error page may echo the request (ASP.NET's developer page lists its headers): the key never goes back.
                await context.Response.WriteAsync(await RedactedErrorBodyAsync(response, context.RequestAborted), context.RequestAborted);
            }
        }
        catch (HttpRequestException e)
        {
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            await context.Response.WriteAsync($"The jobs API ({options.JobsApiResource}) did not answer: {e.Message}");
        }
    }

    /// <summary>Largest upstream error body passed on; error answers are short sentences or problem documents.</summary>
    private const int MaxErrorBody = 64 * 1024;

    private async Task<string> RedactedErrorBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[MaxErrorBody];
        var length = 0;
        while (length < buffer.Length && await stream.ReadAsync(buffer.AsMemory(length), cancellationToken) is var read and > 0)
        {
            length += read;
        }
        var body = Encoding.UTF8.GetString(buffer, 0, length);
        if (string.IsNullOrEmpty(options.JobsApiKey))
        {
            return body;
        }
        // Cut short, the end could hold the start of the key.
        if (length == buffer.Length)
        {
            body = body[..Math.Max(0, body.Length - options.JobsApiKey.Length)];
        }
        return body.Replace(options.JobsApiKey, "[redacted]", StringComparison.Ordinal);
    }

    // --- Prometheus -----------------------------------------------------------------------------------

    /// <summary>One chart of the metrics page: a range query, a series per value of <paramref name="By"/>; with
    /// <paramref name="IdleAuxiliaryHidden"/>, series named with an underscore are shown only while they are above 0.</summary>
    private sealed record MetricPanel(string Id, string Title, string Unit, string Query, string By, string Empty, bool IdleAuxiliaryHidden = false);

    private static readonly MetricPanel[] MetricPanels =
    [
        new("throughput", "Training throughput per trainer", "1/s", "sum by (replica) (pipeline_trainer_throughput)", "replica",
            "no trainer is training"),
        // MassTransit's error, skipped and per-instance queues have an underscore in their names; the services' own none.
        new("queues", "Queue depth (ready + unacknowledged)", "messages", "sum by (queue) (rabbitmq_queue_messages)", "queue",
            "no queue data from the broker", IdleAuxiliaryHidden: true),
        new("cpu", "CPU per service replica", "cores", "sum by (replica) (rate(dotnet_process_cpu_time_seconds_total[30s]))", "replica", "no data"),
        new("memory", "Working set per service replica", "bytes", "sum by (replica) (dotnet_process_memory_working_set_bytes)", "replica", "no data"),
        new("gpu", "GPU utilisation per trainer", "ratio", "max by (replica, gpu) (pipeline_gpu_utilization)", "replica,gpu",
            "no GPU: the trainers found none through NVML"),
        new("gpu-memory", "GPU memory used per trainer", "bytes", "max by (replica, gpu) (pipeline_gpu_memory_used_bytes)", "replica,gpu",
            "no GPU: the trainers found none through NVML"),
        new("messages", "Messages consumed per replica", "1/s", "sum by (replica) (rate(messaging_masstransit_consume_total[30s]))", "replica", "no data"),
        new("http", "HTTP requests per replica", "1/s", "sum by (replica) (rate(http_server_request_duration_seconds_count[30s]))", "replica", "no data"),
    ];

    /// <summary>How far back the charts reach, and their resolution (Prometheus scrapes every 5 s).</summary>
    private static readonly TimeSpan MetricsWindow = TimeSpan.FromMinutes(15), MetricsStep = TimeSpan.FromSeconds(5);

    private async Task<IResult> MetricsAsync(CancellationToken cancellationToken)
    {
        if (options.MetricsResource is not { } name)
        {
            return Results.NotFound();
        }
        var baseUri = app.GetEndpoint(name).ToString().TrimEnd('/');
        var end = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var start = end - (long)MetricsWindow.TotalSeconds;
        var panels = await Task.WhenAll(MetricPanels.Select(async panel =>
        {
            var url = string.Create(CultureInfo.InvariantCulture,
                $"{baseUri}/api/v1/query_range?query={Uri.EscapeDataString(panel.Query)}&start={start}&end={end}&step={MetricsStep.TotalSeconds}");
            try
            {
                using var response = await http.GetAsync(new Uri(url), cancellationToken);
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
                if (!response.IsSuccessStatusCode)
                {
                    var reason = doc.RootElement.TryGetProperty("error", out var e) ? e.GetString() : response.ReasonPhrase;
                    return new MetricPanelView(panel.Id, panel.Title, panel.Unit, panel.Query, panel.Empty, [], $"Prometheus: {reason}");
                }
                var series = doc.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
                    .Select(r => Series(panel, r))
                    .Where(s => s is not null && Shown(panel, s))
                    .Select(s => s!)
                    .OrderBy(s => s.Label, StringComparer.Ordinal)
                    .ToList();
                return new MetricPanelView(panel.Id, panel.Title, panel.Unit, panel.Query, panel.Empty, series, null);
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException or KeyNotFoundException
                || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested)) // Prometheus did not answer in time
            {
                return new MetricPanelView(panel.Id, panel.Title, panel.Unit, panel.Query, panel.Empty, [], e.Message);
            }
        }));
        return Results.Json(new { start, end, panels }, Json);
    }

    private sealed record MetricSeries(string Label, IReadOnlyList<double[]> Points);

    private sealed record MetricPanelView(string Id, string Title, string Unit, string Query, string Empty, IReadOnlyList<MetricSeries> Series, string? Error);

    /// <summary>A range result as [unix seconds, value] pairs, named by the panel's labels (e.g. "trainer-1", "trainer-0 gpu 0").</summary>
    private static MetricSeries? Series(MetricPanel panel, JsonElement result)
    {
        var labels = result.GetProperty("metric");
        var label = string.Join(" ", panel.By.Split(',').Select(key =>
            labels.TryGetProperty(key, out var v) ? (key == "replica" || key == "queue" ? v.GetString() : $"{key} {v.GetString()}") : null).Where(v => v is not null));
        var points = result.GetProperty("values").EnumerateArray()
            .Select(p => new[] { p[0].GetDouble(), double.TryParse(p[1].GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x : double.NaN })
            .Where(p => double.IsFinite(p[1]))
            .ToList();
        return points.Count == 0 ? null : new MetricSeries(label.Length > 0 ? label : "(all)", points);
    }

    private static bool Shown(MetricPanel panel, MetricSeries series) =>
        !panel.IdleAuxiliaryHidden || !series.Label.Contains('_', StringComparison.Ordinal) || series.Points.Any(p => p[1] > 0);

    /// <summary>Leaves SIGINT/SIGTERM to the AppHost, which stops the dashboard after the resources.</summary>
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
