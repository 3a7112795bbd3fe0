using Pipeline.Tests.Support;

namespace Pipeline.AppHost.Tests;

/// <summary>The test classes that share one start of the AppHost's graph (it takes minutes on 2 cores).</summary>
[CollectionDefinition(Name)]
public sealed class GraphCollection : ICollectionFixture<GraphFixture>
{
    public const string Name = "apphost-graph";
}

/// <summary>The AppHost's own graph, started once through Aspire.Hosting.Testing, and stopped with nothing left behind.</summary>
public sealed class GraphFixture : IAsyncLifetime
{
    public const string ApiKey = "graph-test-key-0123456789";
    public static readonly string[] Resources = ["rabbitmq-epmd", "rabbitmq", "storage", "blobs", "prometheus", "ingest", "preprocess", "trainer", "evaluator", "jobs"];

    public PipelineApp App { get; private set; } = null!;

    /// <summary>A small slice of Fashion-MNIST that this run's "Submit Fashion-MNIST" trains (its bundled Fashion-MNIST),
    /// so that a job takes seconds rather than minutes.</summary>
    public string FashionSubset { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var run = Path.Combine(Path.GetTempPath(), "pipeline-tests", "graph-" + Guid.NewGuid().ToString("N")[..8]);
        FashionSubset = Tests.FashionSubset.Write(Path.Combine(run + "-datasets", "fashion-subset"), train: 12000, test: 1000);
        App = await PipelineApp.StartAsync(run,
            [
                $"--PIPELINE_API_KEY={ApiKey}",
                $"--PIPELINE_DATASET_ROOTS={Path.GetDirectoryName(FashionSubset)}",
                $"--PIPELINE_BUNDLED_DATASETS=Fashion-MNIST={FashionSubset}",
            ], TimeSpan.FromMinutes(8), Resources);
    }

    public async Task DisposeAsync()
    {
        var pids = App.Replicas("rabbitmq").Concat(App.Replicas("ingest")).Concat(App.Replicas("trainer"))
            .Select(r => PipelineApp.LauncherPid(r)).OfType<int>().ToList();
        var run = App.RunDirectory;
        await App.DisposeAsync();
        // Stopping the graph leaves none of its processes: by run folder (every resource's command line or
        // environment), and the processes DCP started.
        var remaining = ProcessTree.Mentioning(run).Concat(await ProcessTree.SurvivorsAsync(pids)).ToList();
        if (remaining.Count > 0)
        {
            throw new InvalidOperationException("Processes left after stop:\n" + string.Join('\n', remaining));
        }
        Directory.Delete(run, recursive: true);
        Directory.Delete(Path.GetDirectoryName(FashionSubset)!, recursive: true);
    }
}
