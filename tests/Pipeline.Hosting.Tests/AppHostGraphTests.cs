using System.Net.Http.Json;
using System.Text.Json;

namespace Pipeline.Hosting.Tests;

[Collection(AppHostGraphCollection.Name)]
public sealed class AppHostGraphTests(AppHostGraphFixture fixture)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private DistributedApplication App => fixture.App;

    [Fact]
    public void Every_resource_of_the_graph_is_healthy_on_its_own_port()
    {
        var snapshots = App.Resources.Snapshots;
        Assert.Equal(
            ["rabbitmq", "storage", "blobs", "evaluator", "ingest", "preprocess", "trainer-0", "trainer-1", "prometheus", "testservice-0", "testservice-1", "probe-0", "probe-1"],
            snapshots.Select(s => s.InstanceName));
        Assert.All(snapshots, s => Assert.Equal(ResourceState.Healthy, s.State));
        var ports = snapshots.Where(s => s.ParentName is null).SelectMany(s => s.Endpoints).Select(e => new Uri(e).Port).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
    }

    [Fact]
    public void A_dependent_executable_receives_connection_strings_endpoints_and_its_replica_index()
    {
        for (var replica = 0; replica < 2; replica++)
        {
            var env = fixture.ProbeEnvironment(replica);
            var rabbit = (RabbitMQServerResource)App.Model["rabbitmq"];
            var storage = (AzuriteResource)App.Model["storage"];
            var blobPort = App.GetEndpoint("blobs", "blob").Port;
            // The run's own credentials, never guest:guest or Azurite's published development key.
            Assert.Equal($"amqp://{rabbit.UserName}:{rabbit.Password}@127.0.0.1:{rabbit.GetEndpoint("tcp").Port()}/", env["ConnectionStrings__rabbitmq"]);
            Assert.Equal(
                $"DefaultEndpointsProtocol=http;AccountName={storage.AccountName};AccountKey={storage.AccountKey};BlobEndpoint=http://127.0.0.1:{blobPort}/{storage.AccountName};",
                env["ConnectionStrings__blobs"]);
            Assert.Equal(App.GetEndpoint("testservice", replica: 0).ToString().TrimEnd('/'), env["services__testservice__http__0"]);
            Assert.Equal(App.GetEndpoint("testservice", replica: 1).ToString().TrimEnd('/'), env["services__testservice__http__1"]);
            Assert.Equal(replica.ToString(System.Globalization.CultureInfo.InvariantCulture), env["PIPELINE_REPLICA_INDEX"]);
            Assert.Equal("from-test", env["PROBE_SETTING"]);
            Assert.DoesNotContain("OTEL_SERVICE_NAME", env.Keys); // project-only
        }
    }

    [Fact]
    public async Task Project_replicas_run_their_built_output_with_Aspire_variables_on_distinct_ports()
    {
        var ports = new HashSet<int>();
        for (var replica = 0; replica < 2; replica++)
        {
            var endpoint = App.GetEndpoint("testservice", replica: replica);
            var env = await Http.GetFromJsonAsync<Dictionary<string, string>>(new Uri(endpoint, "/env"));
            Assert.NotNull(env);
            Assert.Equal("testservice", env["OTEL_SERVICE_NAME"]);
            Assert.Equal($"http://127.0.0.1:{endpoint.Port}", env["ASPNETCORE_URLS"]);
            Assert.Equal(endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), env["HTTP_PORTS"]);
            Assert.Equal(replica.ToString(System.Globalization.CultureInfo.InvariantCulture), env["PIPELINE_REPLICA_INDEX"]);
            Assert.Equal(App.GetConnectionString("rabbitmq"), env["ConnectionStrings__rabbitmq"]);
            Assert.DoesNotContain("ConnectionStrings__blobs", env.Keys); // only what it references
            ports.Add(endpoint.Port);
        }
        Assert.Equal(2, ports.Count);
    }

    [Fact]
    public async Task Prometheus_scrapes_every_project_replica()
    {
        var expected = new[] { App.GetEndpoint("testservice", replica: 0), App.GetEndpoint("testservice", replica: 1) }
            .Select(u => $"127.0.0.1:{u.Port}").ToHashSet();
        var up = await WaitForTargetsAsync("testservice", expected);
        Assert.Equal(expected, up);
    }

    [Fact]
    public async Task Prometheus_scrapes_the_depth_of_each_of_the_brokers_queues()
    {
        var expected = new HashSet<string> { $"127.0.0.1:{App.GetEndpoint("rabbitmq", "metrics").Port}" };
        Assert.Equal(expected, await WaitForTargetsAsync("rabbitmq", expected));
        // The services' receive queues, one series each (messages ready + unacknowledged).
        var prometheus = App.GetEndpoint("prometheus");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        HashSet<string> queues;
        do
        {
            var query = Uri.EscapeDataString("rabbitmq_queue_messages");
            using var doc = JsonDocument.Parse(await Http.GetStringAsync(new Uri(prometheus, $"/api/v1/query?query={query}")));
            queues = [.. doc.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
                .Select(r => r.GetProperty("metric").TryGetProperty("queue", out var q) ? q.GetString()! : "")];
            if (queues.IsSupersetOf(["ingest", "preprocess", "trainer"]))
            {
                return;
            }
            await Task.Delay(1000);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"queues with a depth series: {string.Join(", ", queues)}");
    }

    /// <summary>The job's targets that Prometheus reports up, once they are the expected ones (or after 30 s).</summary>
    private async Task<HashSet<string>> WaitForTargetsAsync(string job, HashSet<string> expected)
    {
        var prometheus = App.GetEndpoint("prometheus");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HashSet<string> up;
        do
        {
            using var doc = JsonDocument.Parse(await Http.GetStringAsync(new Uri(prometheus, "/api/v1/targets")));
            up = [.. doc.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
                .Where(t => t.GetProperty("labels").GetProperty("job").GetString() == job && t.GetProperty("health").GetString() == "up")
                .Select(t => t.GetProperty("labels").GetProperty("instance").GetString()!)];
            if (up.SetEquals(expected))
            {
                break;
            }
            await Task.Delay(1000);
        }
        while (DateTime.UtcNow < deadline);
        return up;
    }

    [Fact]
    public async Task Console_output_is_captured_per_replica_in_memory_and_in_the_run_folder()
    {
        var ring = App.Logs["probe-1"];
        // Live tail: the probe may still be on its way to the echo when the graph reports healthy.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var line in ring.WatchAsync(timeout.Token))
        {
            if (line.Text == "probe started")
            {
                Assert.False(line.IsError);
                break;
            }
        }
        Assert.Contains(ring.Snapshot(), l => l.Text == "probe started");
        Assert.Contains("probe started", await File.ReadAllTextAsync(ring.FilePath!));
        Assert.StartsWith(App.RunDirectory, ring.FilePath!, StringComparison.Ordinal);
        Assert.NotEmpty(App.Logs["rabbitmq"].Snapshot()); // the broker logs to stdout
    }

    [Fact]
    public async Task RabbitMQ_runs_with_its_private_config_that_lets_a_trainer_hold_a_message_for_a_long_run()
    {
        var config = Path.Combine(App.RunDirectory, "rabbitmq", "rabbitmq.conf");
        Assert.StartsWith("consumer_timeout = 86400000\n", await File.ReadAllTextAsync(config), StringComparison.Ordinal);
        // The broker names the config files it loaded in its start-up banner.
        var log = await File.ReadAllTextAsync(App.Logs["rabbitmq"].FilePath!);
        Assert.Contains(config, log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_killed_RabbitMQ_is_restarted_and_healthy_again_within_30_seconds()
    {
        var before = App.Resources.Get("rabbitmq");
        Assert.Equal(ResourceState.Healthy, before.State);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var watched = WatchUntilRestartedAsync(before.RestartCount + 1, timeout.Token);
        using var kill = System.Diagnostics.Process.Start("kill", ["-9", before.ProcessId!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();

        var seen = await watched;
        // Unhealthy may slip in if a probe lands between the kill and the exit notice.
        Assert.Equal(
            [ResourceState.Exited, ResourceState.Restarting, ResourceState.Starting, ResourceState.Running, ResourceState.Healthy],
            seen.Select(s => s.State).SkipWhile(s => s == ResourceState.Healthy).Where(s => s != ResourceState.Unhealthy));
        Assert.Equal(137, seen.First(s => s.State == ResourceState.Exited).ExitCode); // 128 + SIGKILL
        var after = App.Resources.Get("rabbitmq");
        Assert.Equal(1, after.RestartCount);
        Assert.NotEqual(before.ProcessId, after.ProcessId);
        Assert.True((await new AmqpHandshakeCheck(App.GetEndpoint("rabbitmq", "tcp").Port).CheckAsync(default)).IsHealthy);
    }

    private async Task<List<ResourceSnapshot>> WatchUntilRestartedAsync(int restarts, CancellationToken cancellationToken)
    {
        var seen = new List<ResourceSnapshot>();
        await foreach (var s in App.Resources.WatchAsync(cancellationToken))
        {
            if (s.InstanceName != "rabbitmq")
            {
                continue;
            }
            seen.Add(s);
            if (s.State == ResourceState.Healthy && s.RestartCount == restarts)
            {
                return seen;
            }
        }
        return seen;
    }
}
