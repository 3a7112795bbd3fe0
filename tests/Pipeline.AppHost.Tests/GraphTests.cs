using System.Globalization;
using System.Net;
using System.Text.Json;
using Aspire.Hosting.ApplicationModel;
using Pipeline.AppHost.Hosting;
using Pipeline.Tests.Support;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.AppHost.Tests;

[Collection(GraphCollection.Name)]
public sealed class GraphTests(GraphFixture fixture)
{
    private PipelineApp App => fixture.App;

    [Fact]
    public void Every_resource_and_replica_of_the_graph_is_running_and_healthy()
    {
        foreach (var name in GraphFixture.Resources)
        {
            var replicas = App.Replicas(name);
            Assert.Equal(name == "trainer" ? 2 : 1, replicas.Count);
            Assert.All(replicas, r => Assert.Equal(KnownResourceStates.Running, r.Snapshot.State?.Text));
            Assert.All(replicas, r => Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, r.Snapshot.HealthStatus));
        }
    }

    [Fact]
    public void Each_trainer_replica_gets_its_own_index_and_the_services_get_Aspires_variables()
    {
        var indices = App.Replicas("trainer").Select(r => Env(r, "PIPELINE_REPLICA_INDEX")).Order(StringComparer.Ordinal);
        Assert.Equal(["0", "1"], indices);
        var ingest = App.Replicas("ingest").Single();
        Assert.Equal(App.GetConnectionString("rabbitmq"), Env(ingest, "ConnectionStrings__rabbitmq"));
        Assert.Equal(App.GetConnectionString("blobs"), Env(ingest, "ConnectionStrings__blobs"));
        Assert.StartsWith("http://", Env(ingest, "services__evaluator__http__0"), StringComparison.Ordinal);
        Assert.Equal(GraphFixture.ApiKey, Env(ingest, "PIPELINE_API_KEY"));
        Assert.Equal("2", Env(ingest, "PIPELINE_TRAINER_REPLICAS"));
        Assert.Equal("Production", Env(ingest, "ASPNETCORE_ENVIRONMENT"));
    }

    [Fact]
    public async Task Prometheus_scrapes_every_project_replica_and_the_brokers_queues()
    {
        using var http = new HttpClient { BaseAddress = App.GetEndpoint("prometheus") };
        var expected = new[] { "ingest", "preprocess", "evaluator", "trainer", "rabbitmq" };
        JsonElement targets = default;
        // Targets appear as replicas start and are scraped every 5 s.
        for (var i = 0; i < 60; i++)
        {
            targets = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/targets?state=active", UriKind.Relative))).RootElement;
            var active = targets.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
                .Where(t => t.GetProperty("health").GetString() == "up").Select(t => t.GetProperty("labels")).ToList();
            var up = active.Select(l => l.GetProperty("job").GetString()).ToList();
            // Each trainer's series are named by its replica index, which it keeps across restarts.
            var trainers = active.Where(l => l.GetProperty("job").GetString() == "trainer")
                .Select(l => l.GetProperty("replica").GetString()).Order(StringComparer.Ordinal).ToList();
            if (expected.All(up.Contains) && trainers.SequenceEqual(["trainer-0", "trainer-1"]))
            {
                return;
            }
            await Task.Delay(1000);
        }
        Assert.Fail("not every replica is scraped: " + targets);
    }

    [Fact]
    public async Task The_broker_takes_only_the_runs_generated_user_which_is_kept_in_its_data_folder()
    {
        var file = Path.Combine(App.RunDirectory, "rabbitmq", ResourceSecrets.FileName);
        var kept = JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement;
        Assert.NotEqual("guest", kept.GetProperty("user").GetString());
        Assert.Matches("^[0-9a-f]{48}$", kept.GetProperty("password").GetString());
        Assert.Contains(kept.GetProperty("password").GetString()!, App.GetConnectionString("rabbitmq"), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        var port = App.GetEndpoint("rabbitmq", RabbitMQServerResource.PrimaryEndpointName).Port;
        var guest = new ConnectionFactory { HostName = "127.0.0.1", Port = port, UserName = "guest", Password = "guest" };
        var refused = await Record.ExceptionAsync(async () => await (await guest.CreateConnectionAsync()).DisposeAsync());
        Assert.True(refused is BrokerUnreachableException or AuthenticationFailureException, $"guest:guest was not refused: {refused}");
        await using var connection = await new ConnectionFactory { Uri = new Uri(App.GetConnectionString("rabbitmq")) }.CreateConnectionAsync();
        Assert.True(connection.IsOpen);
    }

    [Fact]
    public async Task The_blob_store_refuses_azurites_published_development_key_and_takes_the_runs_account()
    {
        var port = App.GetEndpoint("storage", AzuriteResource.BlobEndpointName).Port;
        const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
        var development = new Azure.Storage.Blobs.BlobServiceClient(
            $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DevKey};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;");
        await Assert.ThrowsAsync<Azure.RequestFailedException>(() => development.GetBlobContainerClient("intruder").CreateIfNotExistsAsync());

        var run = new Azure.Storage.Blobs.BlobServiceClient(App.GetConnectionString("blobs"));
        var container = run.GetBlobContainerClient("security-test");
        await container.CreateIfNotExistsAsync();
        Assert.True(await container.ExistsAsync());
    }

    [Fact]
    public void Every_listening_socket_of_the_run_is_on_loopback()
    {
        var pids = App.Replicas("rabbitmq").Concat(App.Replicas("rabbitmq-epmd")).Concat(App.Replicas("storage")).Concat(App.Replicas("prometheus"))
            .Select(r => PipelineApp.LauncherPid(r)).OfType<int>()
            .Concat(GraphFixture.Resources.SelectMany(App.Replicas).Where(r => r.Resource is ProjectResource).Select(App.ServicePid))
            .Distinct().ToList();
        var sockets = pids.SelectMany(pid => Sockets.Listening(pid).Select(s => (Pid: pid, s.Address, s.Port))).ToList();
        var expected = new[]
        {
            App.GetEndpoint("rabbitmq", RabbitMQServerResource.PrimaryEndpointName).Port,
            App.GetEndpoint("rabbitmq", RabbitMQServerResource.MetricsEndpointName).Port,
            App.GetEndpoint("rabbitmq", RabbitMQServerResource.DistributionEndpointName).Port,
            App.GetEndpoint("rabbitmq-epmd", EpmdResource.EndpointName).Port,
            App.GetEndpoint("storage", AzuriteResource.BlobEndpointName).Port,
            App.GetEndpoint("prometheus").Port,
            App.ReplicaEndpoint("trainer", 1).Port,
        };
        Assert.Empty(expected.Except(sockets.Select(s => s.Port)));
        var exposed = sockets.Where(s => !IPAddress.IsLoopback(s.Address)).Select(s => $"{s.Address}:{s.Port} ({s.Pid}: {ProcessTree.CommandLine(s.Pid)})").ToList();
        Assert.True(exposed.Count == 0, "listening beyond loopback:\n" + string.Join('\n', exposed));
    }

    [Fact]
    public async Task A_service_killed_with_SIGKILL_is_restarted_and_healthy_again_within_30_seconds()
    {
        var victim = App.Replicas("trainer")[0];
        var launcher = PipelineApp.LauncherPid(victim);
        var pid = App.ServicePid(victim);
        Assert.Contains("Pipeline.Trainer", ProcessTree.CommandLine(pid), StringComparison.Ordinal);
        using var restarted = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // Back means a new process for the same replica (the dashboard's row), running, and answering its readiness probe.
        var back = App.Notifications.WaitForResourceAsync(victim.Resource.Name,
            e => e.ResourceId == victim.ResourceId
                && PipelineApp.LauncherPid(e) is int now && now != launcher
                && e.Snapshot.State?.Text == KnownResourceStates.Running,
            restarted.Token);
        using (var kill = System.Diagnostics.Process.Start("kill", ["-9", pid.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        var again = await back;
        // Healthy in fact: the snapshot's health can still be the old process's, so the new one's own port is asked.
        var ready = new Uri($"http://127.0.0.1:{ReplicaPort(again).ToString(CultureInfo.InvariantCulture)}/health/ready");
        using var http = new HttpClient();
        while (true)
        {
            try
            {
                using var answer = await http.GetAsync(ready, restarted.Token);
                if (answer.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(200, restarted.Token);
        }
        Assert.False(ProcessTree.IsAlive(pid));
        var newPid = App.ServicePid(again);
        Assert.NotEqual(pid, newPid);
        Assert.Contains("Pipeline.Trainer", ProcessTree.CommandLine(newPid), StringComparison.Ordinal);
    }

    private static int ReplicaPort(ResourceEvent replica) => new Uri(Env(replica, "ASPNETCORE_URLS").Split(';')[0]).Port;

    private static string Env(ResourceEvent replica, string name) =>
        replica.Snapshot.EnvironmentVariables.SingleOrDefault(v => v.Name == name)?.Value
        ?? throw new InvalidOperationException($"{replica.ResourceId} has no {name}.");
}
