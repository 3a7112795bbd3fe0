using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.ServiceDefaults.Messaging;
using Pipeline.ServiceDefaults.Storage;

namespace Pipeline.ServiceDefaults.Tests;

/// <summary>A web service wired with ServiceDefaults against a real broker and blob store.</summary>
public sealed class ServiceDefaultsTests(InfrastructureFixture infrastructure) : IClassFixture<InfrastructureFixture>
{
    // Named like the pipeline's own meters (Pipeline.*), which ServiceDefaults exports without being told each one.
    private static readonly Meter TestMeter = new("Pipeline.Tests.ServiceDefaults");
    private static readonly Counter<long> Widgets = TestMeter.CreateCounter<long>("widgets.made", description: "Widgets made by the test.");
    private static double rate;
    private static readonly ObservableGauge<double> Rate = TestMeter.CreateObservableGauge("widgets.rate", () => rate, unit: "{widget}/s");
    private static readonly Meter OtherMeter = new("Elsewhere.Tests");
    private static readonly Counter<long> Unexported = OtherMeter.CreateCounter<long>("elsewhere.made");

    [Fact]
    public async Task Ready_once_broker_and_store_answer_and_metrics_in_prometheus_text()
    {
        await using var service = await StartServiceAsync(infrastructure.App.GetConnectionString("rabbitmq"), infrastructure.App.GetConnectionString("blobs"));
        using var http = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromSeconds(10) };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode);
        await WaitForStatusAsync(http, "/health/ready", HttpStatusCode.OK);

        Widgets.Add(3, new KeyValuePair<string, object?>("colour", "blue \"navy\""));
        Unexported.Add(1);
        rate = 12.5;
        using var response = await http.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var metrics = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE widgets_made_total counter", metrics, StringComparison.Ordinal);
        Assert.Contains("widgets_made_total{otel_scope_name=\"Pipeline.Tests.ServiceDefaults\",colour=\"blue \\\"navy\\\"\"} 3", metrics, StringComparison.Ordinal);
        // A rate's unit becomes the name's suffix (what the studio queries: pipeline_trainer_throughput_per_second).
        Assert.Contains("# TYPE widgets_rate_per_second gauge", metrics, StringComparison.Ordinal);
        Assert.Contains("widgets_rate_per_second{otel_scope_name=\"Pipeline.Tests.ServiceDefaults\"} 12.5", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("elsewhere_made", metrics, StringComparison.Ordinal);
        // ASP.NET Core's own request histogram, seconds, with cumulative buckets; the runtime's; MassTransit's bus.
        Assert.Contains("http_server_request_duration_seconds_bucket{", metrics, StringComparison.Ordinal);
        Assert.Contains("le=\"+Inf\"", metrics, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_collections_total", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Not_ready_when_the_store_is_unreachable()
    {
        var deadPort = FreePort();
        // The run's own account, at a port where nothing listens.
        var live = infrastructure.App.GetConnectionString("blobs");
        var blobs = System.Text.RegularExpressions.Regex.Replace(live, @"127\.0\.0\.1:\d+", $"127.0.0.1:{deadPort}");
        await using var service = await StartServiceAsync(infrastructure.App.GetConnectionString("rabbitmq"), blobs);
        using var http = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromSeconds(60) };
        var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task An_http_client_finds_a_service_by_name_and_retries_a_transient_failure()
    {
        var calls = 0;
        await using var service = await StartServiceAsync(infrastructure.App.GetConnectionString("rabbitmq"), infrastructure.App.GetConnectionString("blobs"),
            map: app => app.MapGet("/flaky", () => Interlocked.Increment(ref calls) == 1 ? Results.StatusCode(503) : Results.Text("second time")),
            // What an orchestrator injects for a reference to a service named "echo": this service itself.
            configure: (builder, address) => builder.Configuration["services:echo:http:0"] = address.ToString());
        var client = service.Services.GetRequiredService<IHttpClientFactory>().CreateClient();
        // By name, not address (service discovery); the 503 is retried by the standard resilience handler.
        Assert.Equal("second time", await client.GetStringAsync(new Uri("http://echo/flaky")));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task With_an_otlp_endpoint_traces_are_exported_to_it()
    {
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        // An OTLP/HTTP receiver (what the Aspire dashboard listens with), recording what is posted to it.
        var collectorBuilder = WebApplication.CreateSlimBuilder();
        collectorBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = collectorBuilder.Build();
        collector.MapPost("/v1/{signal}", (string signal, HttpContext context) =>
        {
            if (signal == "traces" && context.Request.ContentType == "application/x-protobuf") received.TrySetResult(signal);
            return Results.Ok();
        });
        await collector.StartAsync();
        var collectorAddress = collector.Urls.Single();

        await using var service = await StartServiceAsync(infrastructure.App.GetConnectionString("rabbitmq"), infrastructure.App.GetConnectionString("blobs"),
            map: app => app.MapGet("/work", () => "done"),
            configure: (builder, _) =>
            {
                builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = collectorAddress;
                builder.Configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
                builder.Configuration["OTEL_BSP_SCHEDULE_DELAY"] = "200";
            });
        using var http = new HttpClient { BaseAddress = service.Address };
        Assert.Equal("done", await http.GetStringAsync(new Uri("/work", UriKind.Relative)));
        Assert.Equal("traces", await received.Task.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void A_missing_connection_string_names_the_variable()
    {
        var builder = WebApplication.CreateBuilder();
        var e = Assert.Throws<InvalidOperationException>(() => builder.AddPipelineBus());
        Assert.Contains("ConnectionStrings__rabbitmq", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("amqp://pipeline:0f1e2d@127.0.0.1:5700/", "127.0.0.1", 5700, "/", "pipeline", "0f1e2d")]
    [InlineData("amqp://user:p%40ss@broker/jobs", "broker", 5672, "jobs", "user", "p@ss")]
    public void Parses_amqp_uris(string uri, string host, int port, string vhost, string user, string password) =>
        Assert.Equal(new RabbitMqAddress(host, (ushort)port, vhost, user, password), RabbitMqAddress.Parse(uri));

    [Fact]
    public void Refuses_a_non_amqp_connection_string() =>
        Assert.Throws<FormatException>(() => RabbitMqAddress.Parse("http://127.0.0.1:5672"));

    [Theory]
    [InlineData("amqp://127.0.0.1:5672/")]
    [InlineData("amqp://pipeline@127.0.0.1:5672/")]
    public void Refuses_an_amqp_uri_without_user_and_password_rather_than_trying_guest(string uri)
    {
        var e = Assert.Throws<FormatException>(() => RabbitMqAddress.Parse(uri));
        Assert.Contains("user and password", e.Message, StringComparison.Ordinal);
    }

    private sealed class RunningService(WebApplication app, Uri address) : IAsyncDisposable
    {
        public Uri Address { get; } = address;
        public IServiceProvider Services => app.Services;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static async Task<RunningService> StartServiceAsync(string rabbitmq, string blobs,
        Action<WebApplication>? map = null, Action<WebApplicationBuilder, Uri>? configure = null)
    {
        var port = FreePort();
        var address = new Uri($"http://127.0.0.1:{port}");
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["ConnectionStrings:rabbitmq"] = rabbitmq;
        builder.Configuration["ConnectionStrings:blobs"] = blobs;
        builder.Configuration["OTEL_SERVICE_NAME"] = "servicedefaults-test";
        builder.WebHost.UseUrls(address.ToString());
        configure?.Invoke(builder, address);
        builder.AddServiceDefaults();
        builder.AddPipelineBus();
        builder.AddArtifactStore();
        var app = builder.Build();
        app.MapDefaultEndpoints();
        map?.Invoke(app);
        await app.StartAsync();
        return new RunningService(app, address);
    }

    private static async Task WaitForStatusAsync(HttpClient http, string path, HttpStatusCode expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        HttpStatusCode last;
        do
        {
            last = (await http.GetAsync(new Uri(path, UriKind.Relative))).StatusCode;
            if (last == expected) return;
            await Task.Delay(250);
        } while (DateTime.UtcNow < deadline);
        Assert.Fail($"{path} stayed {last}, expected {expected}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
