using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Pipeline.Hosting.Testing;

namespace Pipeline.Hosting.Tests;

/// <summary>The dashboard's server side on a small graph of plain executables: token login, 401 without it,
/// the resources API and its event stream following a killed process through its restart.</summary>
public sealed class DashboardApiTests
{
    private static async Task<DistributedApplication> StartAsync()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        builder.AddExecutable("worker", "bash", ".", "-c", "echo worker up; sleep 600 & wait");
        builder.AddDashboard();
        var app = await builder.BuildAsync();
        await app.StartAsync();
        await app.Resources.WaitForResourceHealthyAsync("worker");
        return app;
    }

    [Fact]
    public async Task Without_the_token_every_page_and_api_is_401_with_no_data_and_the_login_link_opens_it()
    {
        await using var app = await StartAsync();
        var dashboard = app.Dashboard!;
        using var anonymous = new HttpClient { BaseAddress = dashboard.Url };
        foreach (var path in (string[])["/", "/assets/app.js", "/api/resources", "/api/resources/worker/logs", "/api/events", "/api/jobs", "/api/metrics", "/login", "/login?t=wrong"])
        {
            using var response = await anonymous.GetAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {response.StatusCode}");
            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("worker", body, StringComparison.Ordinal);
            Assert.False(response.Headers.Contains("Set-Cookie"), path);
        }
        using (var wrongBearer = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/resources", UriKind.Relative)))
        {
            wrongBearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", dashboard.Token + "x");
            using var response = await anonymous.SendAsync(wrongBearer);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        // The printed link: a cookie that scripts cannot read, then the page and its data.
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = dashboard.Url };
        using (var login = await browser.GetAsync(dashboard.LoginUrl))
        {
            Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
            var setCookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
            Assert.StartsWith(dashboard.CookieName + "=", setCookie, StringComparison.Ordinal);
            Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        }
        var page = await browser.GetStringAsync(new Uri("/", UriKind.Relative));
        Assert.Contains("/assets/app.js", page, StringComparison.Ordinal);
        var script = await browser.GetStringAsync(new Uri("/assets/app.js", UriKind.Relative));
        Assert.Contains("u-legend", script, StringComparison.Ordinal); // uPlot is bundled in (its legend class survives minifying)
        var resources = JsonDocument.Parse(await browser.GetStringAsync(new Uri("/api/resources", UriKind.Relative))).RootElement;
        var worker = Assert.Single(resources.EnumerateArray(), r => r.GetProperty("instanceName").GetString() == "worker");
        Assert.Equal("Healthy", worker.GetProperty("state").GetString());
        Assert.Equal(app.Resources.Get("worker").ProcessId, worker.GetProperty("processId").GetInt32());
        var logs = JsonDocument.Parse(await browser.GetStringAsync(new Uri("/api/resources/worker/logs", UriKind.Relative))).RootElement;
        Assert.Contains(logs.EnumerateArray(), l => l.GetProperty("text").GetString() == "worker up");
        // This graph has no jobs API: said so, not an error page with someone else's data.
        using var jobs = await browser.GetAsync(new Uri("/api/jobs", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, jobs.StatusCode);
    }

    [Fact]
    public async Task A_process_killed_with_sigkill_is_restarted_healthy_within_30_s_and_the_event_stream_shows_it()
    {
        await using var app = await StartAsync();
        var dashboard = app.Dashboard!;
        using var client = new HttpClient { BaseAddress = dashboard.Url, Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", dashboard.Token);
        using var stream = await client.GetStreamAsync(new Uri("/api/events", UriKind.Relative));
        using var reader = new StreamReader(stream);
        var events = ReadResourceEventsAsync(reader);
        var enumerator = events.GetAsyncEnumerator();

        // Wait for the current snapshot of the worker in the stream, then kill it.
        var before = await NextAsync(enumerator, s => s.GetProperty("instanceName").GetString() == "worker");
        var pid = before.GetProperty("processId").GetInt32();
        var killedAt = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-9", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        var seen = new List<string>();
        var healthy = await NextAsync(enumerator, s =>
        {
            seen.Add(s.GetProperty("state").GetString()!);
            return s.GetProperty("instanceName").GetString() == "worker" && s.GetProperty("state").GetString() == "Healthy"
                && s.GetProperty("restartCount").GetInt32() == 1;
        });
        Assert.True(killedAt.Elapsed < TimeSpan.FromSeconds(30), $"healthy again after {killedAt.Elapsed}");
        Assert.Contains("Exited", seen);
        Assert.Contains("Restarting", seen);
        Assert.NotEqual(pid, healthy.GetProperty("processId").GetInt32());
        await enumerator.DisposeAsync();

        var now = JsonDocument.Parse(await client.GetStringAsync(new Uri("/api/resources", UriKind.Relative))).RootElement;
        var worker = Assert.Single(now.EnumerateArray(), r => r.GetProperty("instanceName").GetString() == "worker");
        Assert.Equal(1, worker.GetProperty("restartCount").GetInt32());
        Assert.Equal("Healthy", worker.GetProperty("state").GetString());
    }

    [Fact]
    public async Task The_jobs_proxy_never_passes_the_api_key_back_even_from_an_upstream_that_echoes_it()
    {
        const string Key = "proxy-test-key-6f1c2a9e0b";
        var builder = DistributedApplicationTestingBuilder.Create();
        // The test service's /api/jobs answers 500 with the request's headers in its body and the key in a header.
        var careless = builder.AddProject("careless", "tests/Pipeline.Hosting.TestService");
        builder.AddDashboard().WithJobsApi(careless, Key);
        await using var app = await builder.BuildAsync();
        await app.StartAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
        {
            await app.Resources.WaitForResourceHealthyAsync("careless", timeout.Token);
        }
        using (var direct = new HttpClient { BaseAddress = app.GetEndpoint("careless") })
        {
            direct.DefaultRequestHeaders.Add("X-Api-Key", Key);
            // Asked directly, it does echo the key: what the dashboard must not pass on.
            using var echoed = await direct.GetAsync(new Uri("/api/jobs", UriKind.Relative));
            Assert.Contains(Key, await echoed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var client = new HttpClient { BaseAddress = app.Dashboard!.Url };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", app.Dashboard.Token);
        using var response = await client.GetAsync(new Uri("/api/jobs?limit=abc", UriKind.Relative));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("Unhandled exception while listing jobs", body, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, body, StringComparison.Ordinal);
        Assert.Contains("X-Api-Key: [redacted]", body, StringComparison.Ordinal);
        Assert.DoesNotContain(response.Headers.Concat(response.Content.Headers), h => h.Value.Any(v => v.Contains(Key, StringComparison.Ordinal)));
    }

    private static async Task<JsonElement> NextAsync(IAsyncEnumerator<JsonElement> events, Func<JsonElement, bool> match)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await events.MoveNextAsync().AsTask().WaitAsync(timeout.Token))
        {
            if (match(events.Current))
            {
                return events.Current;
            }
        }
        throw new InvalidOperationException("the event stream ended");
    }

    /// <summary>The data of each "resource" event of a server-sent event stream.</summary>
    private static async IAsyncEnumerable<JsonElement> ReadResourceEventsAsync(StreamReader reader)
    {
        string? kind = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                kind = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && kind == "resource")
            {
                yield return JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone();
            }
        }
    }
}
