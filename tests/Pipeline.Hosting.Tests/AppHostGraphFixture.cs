using Pipeline.Hosting.Testing;

namespace Pipeline.Hosting.Tests;

/// <summary>The test classes that share one start of the AppHost's graph (it takes minutes on 2 cores).</summary>
[CollectionDefinition(Name)]
public sealed class AppHostGraphCollection : ICollectionFixture<AppHostGraphFixture>
{
    public const string Name = "apphost-graph";
}

/// <summary>The AppHost's real graph (RabbitMQ, Azurite, Prometheus), started once for the class through
/// the testing entry point, plus two test resources that reference it: a shell probe that dumps the
/// environment it was given, and a small web project run with two replicas.</summary>
public sealed class AppHostGraphFixture : IAsyncLifetime
{
    public DistributedApplication App { get; private set; } = null!;
    public string ProbeOutput { get; } = Path.Combine(Path.GetTempPath(), "pipeline-tests", "probe-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(ProbeOutput)!);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Program>();
        var rabbit = builder.CreateResourceBuilder<RabbitMQServerResource>("rabbitmq");
        var blobs = builder.CreateResourceBuilder<AzuriteBlobResource>("blobs");

        var service = builder.AddProject("testservice", "tests/Pipeline.Hosting.TestService")
            .WithReference(rabbit)
            .WithReplicas(2);
        // A process tree: bash stays as the parent of a sleeping child, as a real service with workers would.
        builder.AddExecutable("probe", "bash", ".", "-c", "env > \"$0.$PIPELINE_REPLICA_INDEX\"; echo probe started; sleep 600 & wait", ProbeOutput)
            .WithReference(rabbit)
            .WithReference(blobs)
            .WithReference(service)
            .WithEnvironment("PROBE_SETTING", "from-test")
            .WaitFor(rabbit)
            .WaitFor(blobs)
            .WithReplicas(2);

        App = await builder.BuildAsync();
        await App.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        foreach (var name in (string[])["rabbitmq", "storage", "blobs", "ingest", "preprocess", "trainer", "evaluator", "prometheus", "testservice", "probe"])
        {
            await App.Resources.WaitForResourceHealthyAsync(name, timeout.Token);
        }
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        // Stopping the graph must leave none of its processes (epmd included: it carries the node name).
        var nodeName = RabbitMQServerResource.NodeName(Path.Combine(App.RunDirectory, "rabbitmq"));
        var remaining = await ProcessScan.RemainingAsync(App.RunDirectory, nodeName);
        if (remaining.Count > 0)
        {
            throw new InvalidOperationException("Processes left after stop:\n" + string.Join('\n', remaining));
        }
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(ProbeOutput)!, Path.GetFileName(ProbeOutput) + ".*"))
        {
            File.Delete(file);
        }
    }

    public Dictionary<string, string> ProbeEnvironment(int replica) =>
        File.ReadAllLines($"{ProbeOutput}.{replica}")
            .Select(l => l.Split('=', 2))
            .Where(kv => kv.Length == 2)
            .ToDictionary(kv => kv[0], kv => kv[1]);
}
