using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pipeline.Studio.Tests;

/// <summary>A jobs API the studio is pointed at, run by the test (what the real ingest service cannot be made to do:
/// echo the request's headers in an error page), recording what reaches it.</summary>
public sealed class Upstream : IAsyncLifetime
{
    public const string Marker = "job-list-marker-7c1f";
    public const string SweepMarker = "sweep-list-marker-e2a9";

    /// <summary>The one sweep it knows: its detail answers, its cancel is accepted; any other is 404 (detail) or 409 (cancel).</summary>
    public static readonly Guid KnownSweep = Guid.Parse("5a0c3e1d-8b7f-4c2a-9d6e-1f2a3b4c5d6e");
    private WebApplication? web;

    public Uri Url { get; private set; } = null!;

    /// <summary>The X-Api-Key of each request that reached it.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Keys { get; } = new();

    /// <summary>Length and SHA-256 of the last upload it received.</summary>
    public (long Length, string Sha256)? LastUpload { get; private set; }

    /// <summary>Method, path with query, and X-Api-Key of each request that reached it.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(string Method, string Path, string Key)> Requests { get; } = new();

    /// <summary>The body and content type of the last sweep submitted to it, as it arrived.</summary>
    public (string Body, string? ContentType)? LastSweep { get; private set; }

    /// <summary>A sweep's detail as the sweeps API shapes it (camelCase; the values keyed by recipe key as written).</summary>
    public static string SweepDetailJson() => JsonSerializer.Serialize(new
    {
        sweep = new { id = KnownSweep, state = "Running", task = "classify", source = SweepMarker, metric = "accuracy", mode = "max", search = "random", asha = true,
            trials = 2, finished = 1, stoppedEarly = 1, bestTrial = 2, bestJobId = Guid.Empty, bestValue = 0.75 },
        keys = new[] { "optimizer.lr" },
        trials = new[]
        {
            new { number = 1, values = new Dictionary<string, double> { ["optimizer.lr"] = 0.002 }, state = "Succeeded", epochs = 3, epochsDone = 1, stoppedEarly = true,
                stopReason = (string?)"ASHA rung 1 (epoch 1): validation accuracy 0.5 ranks 2 of 2 trials there; the best 1 go on, so this trial stops" },
            new { number = 2, values = new Dictionary<string, double> { ["optimizer.lr"] = 0.05 }, state = "Training", epochs = 3, epochsDone = 2, stoppedEarly = false,
                stopReason = (string?)null },
        },
    });

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        web = builder.Build();
        web.Use(async (context, next) =>
        {
            Keys.Enqueue(context.Request.Headers["X-Api-Key"].ToString());
            Requests.Enqueue((context.Request.Method, context.Request.Path + context.Request.QueryString, context.Request.Headers["X-Api-Key"].ToString()));
            await next(context);
        });
        web.MapGet("/api/jobs", (HttpContext context) =>
        {
            if (context.Request.Query["limit"] == "abc")
            {
                // As careless as ASP.NET Core's developer exception page: the request's headers in the body, and the key
                // sent back as a header of its own.
                context.Response.Headers["X-Echo-Api-Key"] = context.Request.Headers["X-Api-Key"].ToString();
                var headers = string.Join("\n", context.Request.Headers.Select(h => $"{h.Key}: {h.Value}"));
                return Results.Text("Unhandled exception while listing jobs.\nHeaders:\n" + headers, "text/plain", statusCode: 500);
            }
            return context.Request.Headers["X-Api-Key"] == StudioGraph.ApiKey
                ? Results.Json(new[] { new { id = Guid.Empty, state = "Succeeded", source = Marker } })
                : Results.Unauthorized();
        });
        web.MapPost("/api/uploads", async (HttpContext context) =>
        {
            context.Features.Get<IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize = null;
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 16];
            long length = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                length += read;
            }
            LastUpload = (length, Convert.ToHexString(sha.GetHashAndReset()));
            return Results.Json(new { source = "blob:uploads/test", bytes = length, name = context.Request.Query["name"].ToString() });
        });
        // The sweeps API's routes with its answers' shapes: what the studio must pass on untouched.
        web.MapGet("/api/sweeps", (HttpContext context, int? limit) =>
            context.Request.Headers["X-Api-Key"] == StudioGraph.ApiKey
                ? Results.Json(new[] { new { id = KnownSweep, state = "Running", source = SweepMarker, limit } })
                : Results.Unauthorized());
        web.MapPost("/api/sweeps", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            LastSweep = (body, context.Request.ContentType);
            var request = JsonDocument.Parse(body).RootElement;
            var sweepYaml = request.TryGetProperty("sweepYaml", out var y) ? y.GetString() : null;
            if (sweepYaml is null || !sweepYaml.Contains("space:", StringComparison.Ordinal))
                return Results.Problem("sweep: space: expected a map of recipe keys to search", statusCode: 400);
            return Results.Accepted($"/api/sweeps/{KnownSweep}", new { id = KnownSweep, state = "Running", source = request.GetProperty("path").GetString() });
        });
        web.MapGet("/api/sweeps/{id:guid}", (Guid id) => id == KnownSweep
            ? Results.Text(SweepDetailJson(), "application/json")
            : Results.Problem($"sweep {id} does not exist", statusCode: 404));
        web.MapPost("/api/sweeps/{id:guid}/cancel", (Guid id) => id == KnownSweep
            ? Results.Accepted($"/api/sweeps/{id}")
            : Results.Conflict(new { error = $"sweep {id} is already Succeeded" }));
        await web.StartAsync();
        Url = new Uri(web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
    }

    public async Task DisposeAsync()
    {
        if (web is not null)
        {
            await web.DisposeAsync();
        }
    }
}

/// <summary>The upstream and the studio pointed at it, started once for the class.</summary>
public sealed class StudioWithUpstream : IAsyncLifetime
{
    public Upstream Upstream { get; } = new();
    public StudioGraph Studio { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Upstream.InitializeAsync();
        Studio = await StudioGraph.StartStudioAsync(Upstream.Url);
    }

    public async Task DisposeAsync()
    {
        await Studio.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}

/// <summary>The studio's server side as a project resource: token login, 401 and no data without it, the jobs API
/// called with the key that the browser never sees, uploads streamed through whatever their size.</summary>
public sealed class StudioApiTests(StudioWithUpstream fixture) : IClassFixture<StudioWithUpstream>
{
    private StudioGraph Studio => fixture.Studio;

    private HttpClient Authorized()
    {
        var client = new HttpClient { BaseAddress = Studio.Url, Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", StudioGraph.Token);
        return client;
    }

    [Fact]
    public async Task Without_the_token_every_page_and_api_is_401_with_no_data_and_the_login_link_opens_it()
    {
        using var anonymous = new HttpClient { BaseAddress = Studio.Url };
        var asked = fixture.Upstream.Keys.Count;
        foreach (var path in (string[])["/", "/assets/app.js", "/api/config", "/api/jobs", $"/api/jobs/{Guid.Empty}", "/api/events",
            $"/api/jobs/{Guid.Empty}/artifacts/reports/test.json", "/api/metrics", "/login", "/login?t=wrong",
            "/api/sweeps", $"/api/sweeps/{Upstream.KnownSweep}", $"/api/sweeps/{Upstream.KnownSweep}/events"])
        {
            using var response = await anonymous.GetAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {response.StatusCode}");
            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain(Upstream.Marker, body, StringComparison.Ordinal);
            Assert.DoesNotContain(Upstream.SweepMarker, body, StringComparison.Ordinal);
            Assert.DoesNotContain("fashion-mnist", body, StringComparison.Ordinal);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.False(response.Headers.Contains("Set-Cookie"), path);
        }
        // Not even asked: the jobs API saw no request for any of them.
        Assert.Equal(asked, fixture.Upstream.Keys.Count);
        using (var wrongBearer = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/jobs", UriKind.Relative)))
        {
            wrongBearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", StudioGraph.Token + "x");
            using var response = await anonymous.SendAsync(wrongBearer);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        // The API key is no login for the studio.
        using (var apiKey = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/jobs", UriKind.Relative)))
        {
            apiKey.Headers.Authorization = new AuthenticationHeaderValue("Bearer", StudioGraph.ApiKey);
            apiKey.Headers.Add("X-Api-Key", StudioGraph.ApiKey);
            using var response = await anonymous.SendAsync(apiKey);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        // Probes and Prometheus hold no token.
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(new Uri("/metrics", UriKind.Relative))).StatusCode);

        // The login link: a cookie that scripts cannot read, then the page, its script and the data.
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = Studio.Url };
        using (var login = await browser.GetAsync(Studio.LoginUrl))
        {
            Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
            Assert.Equal("/", login.Headers.Location?.OriginalString);
            var setCookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
            Assert.StartsWith("pipeline-studio-", setCookie, StringComparison.Ordinal);
            Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        }
        // A job's login link (the Aspire dashboard's, on each job) opens that job's page; anything else there is no job.
        var job = Guid.NewGuid();
        using (var jobLogin = await browser.GetAsync(new Uri($"{Studio.LoginUrl}&job={job}")))
        {
            Assert.Equal(HttpStatusCode.Redirect, jobLogin.StatusCode);
            Assert.Equal($"/#/jobs/{job}", jobLogin.Headers.Location?.OriginalString);
        }
        using (var oddLogin = await browser.GetAsync(new Uri($"{Studio.LoginUrl}&job=//elsewhere.example")))
        {
            Assert.Equal("/", oddLogin.Headers.Location?.OriginalString);
        }
        var page = await browser.GetStringAsync(new Uri("/", UriKind.Relative));
        Assert.Contains("/assets/app.js", page, StringComparison.Ordinal);
        var script = await browser.GetStringAsync(new Uri("/assets/app.js", UriKind.Relative));
        Assert.Contains("u-legend", script, StringComparison.Ordinal); // uPlot is bundled in (its legend class survives minifying)
        var css = await browser.GetStringAsync(new Uri("/assets/app.css", UriKind.Relative));
        Assert.Contains(".uplot", css, StringComparison.Ordinal);

        // Only the bundled folders that exist are offered.
        var config = JsonDocument.Parse(await browser.GetStringAsync(new Uri("/api/config", UriKind.Relative))).RootElement;
        Assert.True(config.GetProperty("jobs").GetBoolean());
        Assert.False(config.GetProperty("metrics").GetBoolean());
        var dataset = Assert.Single(config.GetProperty("datasets").EnumerateArray());
        Assert.Equal("Fashion-MNIST", dataset.GetProperty("name").GetString());
        Assert.Equal(StudioGraph.BundledFashion, dataset.GetProperty("path").GetString());

        // The job list comes from the jobs API, asked with the key.
        var jobs = await browser.GetStringAsync(new Uri("/api/jobs", UriKind.Relative));
        Assert.Contains(Upstream.Marker, jobs, StringComparison.Ordinal);
        Assert.Contains(StudioGraph.ApiKey, fixture.Upstream.Keys);

        // This studio has no Prometheus: said so as a problem, not an error page.
        using var metrics = await browser.GetAsync(new Uri("/api/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
        Assert.Contains("services:prometheus:http:0", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_jobs_proxy_never_passes_the_api_key_back_even_from_an_upstream_that_echoes_it()
    {
        using (var direct = new HttpClient { BaseAddress = fixture.Upstream.Url })
        {
            direct.DefaultRequestHeaders.Add("X-Api-Key", StudioGraph.ApiKey);
            // Asked directly, it does echo the key: what the studio must not pass on.
            using var echoed = await direct.GetAsync(new Uri("/api/jobs?limit=abc", UriKind.Relative));
            Assert.Contains(StudioGraph.ApiKey, await echoed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var client = Authorized();
        using var response = await client.GetAsync(new Uri("/api/jobs?limit=abc", UriKind.Relative));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("Unhandled exception while listing jobs", body, StringComparison.Ordinal);
        Assert.DoesNotContain(StudioGraph.ApiKey, body, StringComparison.Ordinal);
        Assert.Contains("X-Api-Key: [redacted]", body, StringComparison.Ordinal);
        // Nor the studio's own token, which the browser sent and the upstream never saw.
        Assert.DoesNotContain(StudioGraph.Token, body, StringComparison.Ordinal);
        Assert.DoesNotContain(response.Headers.Concat(response.Content.Headers), h => h.Value.Any(v => v.Contains(StudioGraph.ApiKey, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_upload_larger_than_kestrels_default_body_limit_streams_through_intact()
    {
        // 48 MiB: past Kestrel's 30 MB default, which would answer 413 were the limit not lifted for uploads.
        var data = new byte[48 << 20];
        new Random(5).NextBytes(data);
        using var client = Authorized();
        using var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await client.PostAsync(new Uri("/api/uploads?name=big.zip", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(data.Length, answer.GetProperty("bytes").GetInt64());
        Assert.Equal("big.zip", answer.GetProperty("name").GetString());
        Assert.Equal((data.LongLength, Convert.ToHexString(SHA256.HashData(data))), fixture.Upstream.LastUpload);
    }

    [Fact]
    public async Task An_unexpected_path_or_a_bad_job_id_is_a_problem_without_internals()
    {
        using var client = Authorized();
        using var missing = await client.GetAsync(new Uri("/api/nothing-here", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        // Not a GUID: the route does not match, and the jobs API is not asked.
        using var badId = await client.GetAsync(new Uri("/api/jobs/not-a-guid", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, badId.StatusCode);
        var body = await badId.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.DoesNotContain(StudioGraph.ApiKey, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sweep_routes_pass_through_with_the_key_and_their_answers_status_and_body_intact()
    {
        using var client = Authorized();
        var sweep = Upstream.KnownSweep;

        // The list, its query passed on.
        using (var list = await client.GetAsync(new Uri("/api/sweeps?limit=7", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            var item = Assert.Single(JsonDocument.Parse(await list.Content.ReadAsStringAsync()).RootElement.EnumerateArray());
            Assert.Equal(Upstream.SweepMarker, item.GetProperty("source").GetString());
            Assert.Equal(7, item.GetProperty("limit").GetInt32());
        }

        // A submission: the body reaches the API byte for byte, and its 202 comes back with the sweep.
        const string submitted = """{"path":"/data/colours","task":"classify","recipeYaml":"epochs: 2\n","sweepYaml":"trials: 2\nspace:\n  optimizer.lr: {log_uniform: [0.001, 0.1]}\n","trainers":1}""";
        using (var content = new StringContent(submitted, System.Text.Encoding.UTF8, "application/json"))
        using (var accepted = await client.PostAsync(new Uri("/api/sweeps", UriKind.Relative), content))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            Assert.Equal("application/json", accepted.Content.Headers.ContentType?.MediaType);
            var view = JsonDocument.Parse(await accepted.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(sweep, view.GetProperty("id").GetGuid());
            Assert.Equal("/data/colours", view.GetProperty("source").GetString());
        }
        Assert.Equal(submitted, fixture.Upstream.LastSweep?.Body);
        Assert.Equal("application/json; charset=utf-8", fixture.Upstream.LastSweep?.ContentType);

        // A sweep the API refuses: its 400 problem and sentence come back as they are.
        using (var content = new StringContent("""{"path":"/data/colours","sweepYaml":"trials: 2\n"}""", System.Text.Encoding.UTF8, "application/json"))
        using (var refused = await client.PostAsync(new Uri("/api/sweeps", UriKind.Relative), content))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Equal("sweep: space: expected a map of recipe keys to search",
                JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
        }

        // The detail, unchanged (recipe keys with dots included); an unknown sweep's 404 problem.
        Assert.Equal(Upstream.SweepDetailJson(), await client.GetStringAsync(new Uri($"/api/sweeps/{sweep}", UriKind.Relative)));
        var unknown = Guid.NewGuid();
        using (var missing = await client.GetAsync(new Uri($"/api/sweeps/{unknown}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Contains($"sweep {unknown} does not exist", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Cancel: accepted for a running sweep, 409 with the API's sentence for one that is over.
        using (var cancelled = await client.PostAsync(new Uri($"/api/sweeps/{sweep}/cancel", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancelled.StatusCode);
        }
        using (var over = await client.PostAsync(new Uri($"/api/sweeps/{unknown}/cancel", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.Conflict, over.StatusCode);
            Assert.Contains($"sweep {unknown} is already Succeeded", await over.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Every one of them reached the API with the key, at the API's own path.
        foreach (var (method, path) in (ValueTuple<string, string>[])[("GET", "/api/sweeps?limit=7"), ("POST", "/api/sweeps"), ("GET", $"/api/sweeps/{sweep}"),
            ("GET", $"/api/sweeps/{unknown}"), ("POST", $"/api/sweeps/{sweep}/cancel"), ("POST", $"/api/sweeps/{unknown}/cancel")])
        {
            Assert.Contains((method, path, StudioGraph.ApiKey), fixture.Upstream.Requests);
        }
        // Not a GUID: no route, and the API is not asked.
        var asked = fixture.Upstream.Requests.Count;
        using (var badId = await client.GetAsync(new Uri("/api/sweeps/not-a-guid", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, badId.StatusCode);
        }
        Assert.Equal(asked, fixture.Upstream.Requests.Count);
    }

    [Fact]
    public async Task A_sweeps_live_view_streams_its_detail_as_a_sweep_event()
    {
        using var client = Authorized();
        // A stream that never sends fails the test instead of hanging it.
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/api/sweeps/{Upstream.KnownSweep}/events", UriKind.Relative));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, guard.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(guard.Token));
        Assert.Equal("event: sweep", await reader.ReadLineAsync(guard.Token));
        Assert.Equal("data: " + Upstream.SweepDetailJson(), await reader.ReadLineAsync(guard.Token));
    }
}
