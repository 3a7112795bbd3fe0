using System.Globalization;
using Pipeline.Hosting;
using Pipeline.Hosting.Testing;

namespace Pipeline.Studio.Tests;

/// <summary>The one place that builds and starts graphs for the studio's tests (through the testing builder), so that
/// moving to Aspire.Hosting.Testing changes this file only. The studio is a project resource configured exactly as
/// the AppHost configures it: <c>services__ingest__http__0</c> and <c>services__prometheus__http__0</c> by reference,
/// <c>PIPELINE_API_KEY</c>, <c>PIPELINE_STUDIO_TOKEN</c> and <c>PIPELINE_BUNDLED_DATASETS</c>.</summary>
public sealed class StudioGraph : IAsyncDisposable
{
    public const string ApiKey = "studio-test-key-4d1e8a07c2";
    public const string Token = "studio-test-token-93b0f5e6a1d74c28";
    public const string BundledFashion = "/usr/share/datasets/fashion-mnist";
    public const int TrainerReplicas = 2;

    private readonly DistributedApplication app;

    private StudioGraph(DistributedApplication app) => this.app = app;

    /// <summary>The studio's address (ends with '/').</summary>
    public Uri Url => EnsureSlash(app.GetEndpoint("studio"));

    public Uri LoginUrl => new(Url, "login?t=" + Token);

    /// <summary>The whole system (RabbitMQ, Azurite, Prometheus, ingest, preprocess, two trainers, evaluator) with the studio.</summary>
    public static async Task<StudioGraph> StartSystemAsync()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        var rabbit = builder.AddRabbitMQ("rabbitmq");
        var blobs = builder.AddAzurite("storage").AddBlobs("blobs");
        var evaluator = builder.AddProject("evaluator", "src/Pipeline.Evaluator")
            .WithReference(rabbit).WithReference(blobs).WaitFor(rabbit).WaitFor(blobs)
            .WithEnvironment("PIPELINE_API_KEY", ApiKey);
        var ingest = builder.AddProject("ingest", "src/Pipeline.Ingest")
            .WithReference(rabbit).WithReference(blobs).WithReference(evaluator).WaitFor(rabbit).WaitFor(blobs)
            .WithEnvironment("PIPELINE_API_KEY", ApiKey)
            .WithEnvironment("PIPELINE_DATASET_ROOTS", "/usr/share/datasets")
            .WithEnvironment("PIPELINE_TRAINER_REPLICAS", TrainerReplicas.ToString(CultureInfo.InvariantCulture));
        builder.AddProject("preprocess", "src/Pipeline.Preprocess")
            .WithReference(rabbit).WithReference(blobs).WaitFor(rabbit).WaitFor(blobs);
        builder.AddProject("trainer", "src/Pipeline.Trainer")
            .WithReference(rabbit).WithReference(blobs).WaitFor(rabbit).WaitFor(blobs)
            .WithReplicas(TrainerReplicas);
        var prometheus = builder.AddPrometheus("prometheus");
        AddStudio(builder)
            .WithReference(ingest).WithReference(prometheus)
            .WithEnvironment("PIPELINE_BUNDLED_DATASETS", $"Fashion-MNIST={BundledFashion}");
        var app = await builder.BuildAsync();
        await app.StartAsync();
        using var start = new CancellationTokenSource(TimeSpan.FromMinutes(12)); // the first build of the services
        foreach (var name in (string[])["rabbitmq", "storage", "ingest", "preprocess", "trainer", "evaluator", "prometheus", "studio"])
        {
            await app.Resources.WaitForResourceHealthyAsync(name, start.Token);
        }
        return new StudioGraph(app);
    }

    /// <summary>The studio alone, its jobs API at <paramref name="jobsApi"/> (a server the test runs), or none.</summary>
    public static async Task<StudioGraph> StartStudioAsync(Uri? jobsApi)
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        var studio = AddStudio(builder).WithEnvironment("PIPELINE_BUNDLED_DATASETS", $"Fashion-MNIST={BundledFashion};Missing=/nonexistent/dataset");
        if (jobsApi is not null)
        {
            // What a reference to the ingest resource injects.
            studio.WithEnvironment("services__ingest__http__0", jobsApi.ToString().TrimEnd('/'));
        }
        var app = await builder.BuildAsync();
        await app.StartAsync();
        using var start = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await app.Resources.WaitForResourceHealthyAsync("studio", start.Token);
        return new StudioGraph(app);
    }

    private static IResourceBuilder<ProjectResource> AddStudio(IDistributedApplicationBuilder builder) =>
        builder.AddProject("studio", "src/Pipeline.Studio")
            .WithEnvironment("PIPELINE_API_KEY", ApiKey)
            .WithEnvironment("PIPELINE_STUDIO_TOKEN", Token);

    private static Uri EnsureSlash(Uri uri) => uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");

    public async ValueTask DisposeAsync() => await app.DisposeAsync();
}
