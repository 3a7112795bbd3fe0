using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;

namespace Pipeline.ServiceDefaults.Tests;

/// <summary>Errors of a service wired with ServiceDefaults: problem details a user can act on, and nothing of the
/// server (stack trace, exception text, paths, request headers), even when it runs in Development, where ASP.NET
/// Core's developer exception page would list all of them.</summary>
public sealed class ProblemResponsesTests
{
    private const string Key = "problem-test-key-51d0c9";

    [Theory]
    [InlineData("Development", "application/json")]
    [InlineData("Development", "text/html")]
    [InlineData("Production", "application/json")]
    public async Task An_unhandled_error_is_an_internal_error_with_a_trace_id_and_nothing_of_the_server(string environment, string accept)
    {
        await using var app = await StartAsync(environment);
        using var http = Client(app, accept);
        using var response = await http.GetAsync(new Uri("/boom", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("internal error (trace id ", body, StringComparison.Ordinal);
        foreach (var leak in (string[])[Key, "/srv/pipeline/secret.db", "InvalidOperationException", "   at ", "X-Api-Key"])
        {
            Assert.DoesNotContain(leak, body, StringComparison.Ordinal);
        }
        if (accept == "application/json")
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(body).RootElement;
            Assert.Equal(500, problem.GetProperty("status").GetInt32());
            Assert.Contains(problem.GetProperty("traceId").GetString()!, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task A_value_that_does_not_bind_is_a_400_naming_the_query_key_and_what_it_must_be(string environment)
    {
        await using var app = await StartAsync(environment);
        using var http = Client(app, "application/json");
        using var count = await http.GetAsync(new Uri("/count?n=abc", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, count.StatusCode);
        Assert.Equal("query parameter 'n' must be an integer, got 'abc'", JsonDocument.Parse(await count.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
        using var renamed = await http.GetAsync(new Uri("/score?min_score=high", UriKind.Relative));
        Assert.Equal("query parameter 'min_score' must be a number, got 'high'", JsonDocument.Parse(await renamed.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
        using var missing = await http.GetAsync(new Uri("/nothing/here", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("nothing is served at GET /nothing/here", JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
    }

    private static HttpClient Client(RunningApp app, string accept)
    {
        var http = new HttpClient { BaseAddress = app.Address, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-Api-Key", Key);
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        return http;
    }

    private static async Task<RunningApp> StartAsync(string environment)
    {
        var port = FreePort();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = environment });
        builder.Configuration["OTEL_SERVICE_NAME"] = "problem-test";
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.AddServiceDefaults();
        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/boom", string () => throw new InvalidOperationException($"cannot open /srv/pipeline/secret.db for key {Key}"));
        app.MapGet("/count", (int n) => n);
        app.MapGet("/score", ([Microsoft.AspNetCore.Mvc.FromQuery(Name = "min_score")] double minScore) => minScore);
        await app.StartAsync();
        return new RunningApp(app, new Uri($"http://127.0.0.1:{port}"));
    }

    private sealed class RunningApp(WebApplication app, Uri address) : IAsyncDisposable
    {
        public Uri Address { get; } = address;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
