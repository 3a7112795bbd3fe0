using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Features;

namespace Pipeline.Studio;

/// <summary>The ingest service's jobs and sweeps API, called server-side with the API key: the browser only ever holds the
/// studio's token. Requests pass through as they are (an upload streams, however long it takes); answers pass back
/// with their status and body, an error's body with the key blanked out.</summary>
public sealed class JobsApiProxy(StudioSettings settings, IHttpClientFactory clients)
{
    /// <summary>Short calls the studio makes itself (polling for the live views).</summary>
    public const string PollClient = "jobs-api";

    /// <summary>Browser requests passed on: no timeout (an upload takes as long as it takes; the browser leaving cancels it).</summary>
    public const string ProxyClient = "jobs-api-proxy";

    /// <summary>Largest upstream error body passed on; error answers are short sentences or problem documents.</summary>
    private const int MaxErrorBody = 64 * 1024;

    public void Map(IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        routes.MapGet("/api/jobs", (HttpContext c) => ProxyAsync(c, HttpMethod.Get, "api/jobs"));
        routes.MapPost("/api/jobs", (HttpContext c) => ProxyAsync(c, HttpMethod.Post, "api/jobs"));
        routes.MapPost("/api/uploads", (HttpContext c) =>
        {
            // An archive of any size streams through to the ingest service, which enforces its own upload limit.
            if (c.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
            return ProxyAsync(c, HttpMethod.Post, "api/uploads");
        });
        routes.MapGet("/api/jobs/{id:guid}", (HttpContext c, Guid id) => ProxyAsync(c, HttpMethod.Get, $"api/jobs/{id}"));
        routes.MapPost("/api/jobs/{id:guid}/cancel", (HttpContext c, Guid id) => ProxyAsync(c, HttpMethod.Post, $"api/jobs/{id}/cancel"));
        routes.MapGet("/api/jobs/{id:guid}/artifacts", (HttpContext c, Guid id) => ProxyAsync(c, HttpMethod.Get, $"api/jobs/{id}/artifacts"));
        routes.MapGet("/api/jobs/{id:guid}/artifacts/{**name}", (HttpContext c, Guid id, string name) =>
            ProxyAsync(c, HttpMethod.Get, $"api/jobs/{id}/artifacts/{string.Join('/', name.Split('/').Select(Uri.EscapeDataString))}"));
        routes.MapGet("/api/sweeps", (HttpContext c) => ProxyAsync(c, HttpMethod.Get, "api/sweeps"));
        routes.MapPost("/api/sweeps", (HttpContext c) => ProxyAsync(c, HttpMethod.Post, "api/sweeps"));
        routes.MapGet("/api/sweeps/{id:guid}", (HttpContext c, Guid id) => ProxyAsync(c, HttpMethod.Get, $"api/sweeps/{id}"));
        routes.MapPost("/api/sweeps/{id:guid}/cancel", (HttpContext c, Guid id) => ProxyAsync(c, HttpMethod.Post, $"api/sweeps/{id}/cancel"));
        routes.MapGet("/api/events", EventsAsync);
        routes.MapGet("/api/jobs/{id:guid}/events", (HttpContext c, Guid id) => DetailEventsAsync(c, $"api/jobs/{id}", "job"));
        routes.MapGet("/api/sweeps/{id:guid}/events", (HttpContext c, Guid id) => DetailEventsAsync(c, $"api/sweeps/{id}", "sweep"));
    }

    private HttpRequestMessage Request(HttpMethod method, Uri baseUri, string pathAndQuery)
    {
        var request = new HttpRequestMessage(method, new Uri(baseUri, pathAndQuery));
        request.Headers.Add("X-Api-Key", settings.ApiKey);
        return request;
    }

    private static Task NoJobsApiAsync(HttpContext context) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No jobs API",
            detail: $"the studio has no jobs API to call ({StudioSettings.IngestKey} is not set)").ExecuteAsync(context);

    private async Task ProxyAsync(HttpContext context, HttpMethod method, string path)
    {
        if (settings.JobsApi is not { } baseUri)
        {
            await NoJobsApiAsync(context).ConfigureAwait(false);
            return;
        }
        using var request = Request(method, baseUri, path + context.Request.QueryString);
        if (method == HttpMethod.Post)
        {
            request.Content = new StreamContent(context.Request.Body);
            if (context.Request.ContentType is { } type)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            }
            request.Content.Headers.ContentLength = context.Request.ContentLength;
        }
        HttpResponseMessage response;
        try
        {
            response = await clients.CreateClient(ProxyClient)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            await Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Jobs API unreachable",
                detail: $"the jobs API ({baseUri}) did not answer: {e.Message}").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }
        using (response)
        {
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
                await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                // An error page may echo the request (ASP.NET's developer page lists its headers): the key never goes back.
                var body = await RedactedErrorBodyAsync(response, context.RequestAborted).ConfigureAwait(false);
                await context.Response.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
            }
        }
    }

    private async Task<string> RedactedErrorBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[MaxErrorBody];
            var length = 0;
            while (length < buffer.Length && await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false) is var read and > 0)
            {
                length += read;
            }
            return Redact(Encoding.UTF8.GetString(buffer, 0, length), cutShort: length == buffer.Length, settings.ApiKey);
        }
    }

    /// <summary>The body with every occurrence of the key replaced; a body cut short loses as many characters at its
    /// end as the key has, since they could hold the start of it.</summary>
    internal static string Redact(string body, bool cutShort, string key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return body;
        }
        if (cutShort)
        {
            body = body[..Math.Max(0, body.Length - key.Length)];
        }
        return body.Replace(key, "[redacted]", StringComparison.Ordinal);
    }

    /// <summary>The body of a GET, or null while the API is not up (the live views retry).</summary>
    private async Task<string?> GetAsync(string path, CancellationToken cancellationToken)
    {
        if (settings.JobsApi is not { } baseUri)
        {
            return null;
        }
        try
        {
            using var request = Request(HttpMethod.Get, baseUri, path);
            using var response = await clients.CreateClient(PollClient).SendAsync(request, cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false) : null;
        }
        catch (Exception e) when (e is HttpRequestException or Polly.ExecutionRejectedException) // down, timed out, or its circuit open
        {
            return null;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null; // the API did not answer in time: the next poll asks again
        }
    }

    // --- server-sent events --------------------------------------------------------------------------

    private static CancellationTokenSource StreamCancellation(HttpContext context) =>
        CancellationTokenSource.CreateLinkedTokenSource(
            context.RequestAborted, context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);

    private static async Task BeginEventsAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task SendAsync(HttpContext context, string kind, string json, CancellationToken cancellationToken)
    {
        await context.Response.WriteAsync($"event: {kind}\ndata: {json}\n\n", cancellationToken).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The job list whenever it changes, with a comment line every 15 s so that idle streams stay open.</summary>
    private async Task EventsAsync(HttpContext context)
    {
        using var stop = StreamCancellation(context);
        var events = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        var poll = Task.Run(() => PollJobsAsync(events.Writer, stop.Token), stop.Token);
        await BeginEventsAsync(context).ConfigureAwait(false);
        try
        {
            while (true)
            {
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                heartbeat.CancelAfter(TimeSpan.FromSeconds(15));
                try
                {
                    var json = await events.Reader.ReadAsync(heartbeat.Token).ConfigureAwait(false);
                    await SendAsync(context, "jobs", json, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                {
                    await context.Response.WriteAsync(": ping\n\n", stop.Token).ConfigureAwait(false);
                    await context.Response.Body.FlushAsync(stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The browser left or the studio is stopping.
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await poll.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
    }

    private async Task PollJobsAsync(ChannelWriter<string> events, CancellationToken cancellationToken)
    {
        string? last = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (await GetAsync("api/jobs", cancellationToken).ConfigureAwait(false) is { } list && list != last)
            {
                last = list;
                events.TryWrite(list);
            }
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One job's detail (state, events, metrics history) or one sweep's (its trials and their curves), sent as
    /// a <paramref name="kind"/> event each time it changes.</summary>
    private async Task DetailEventsAsync(HttpContext context, string path, string kind)
    {
        if (settings.JobsApi is null)
        {
            await NoJobsApiAsync(context).ConfigureAwait(false);
            return;
        }
        using var stop = StreamCancellation(context);
        await BeginEventsAsync(context).ConfigureAwait(false);
        string? last = null;
        try
        {
            while (true)
            {
                if (await GetAsync(path, stop.Token).ConfigureAwait(false) is { } detail && detail != last)
                {
                    last = detail;
                    await SendAsync(context, kind, detail, stop.Token).ConfigureAwait(false);
                }
                await Task.Delay(TimeSpan.FromSeconds(1.5), stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The browser left or the studio is stopping.
        }
    }
}
