using Aspire.Hosting;
using Pipeline.Tests.Support;

namespace Pipeline.Studio.Tests;

/// <summary>The one place that starts graphs for the studio's tests, through Aspire.Hosting.Testing: the AppHost's own
/// graph (the studio configured as the AppHost configures it), or the studio alone with the same variables the
/// AppHost gives it: <c>services__ingest__http__0</c>, <c>PIPELINE_API_KEY</c>, <c>PIPELINE_STUDIO_TOKEN</c> and
/// <c>PIPELINE_BUNDLED_DATASETS</c>.</summary>
public sealed class StudioGraph : IAsyncDisposable
{
    public const string ApiKey = "studio-test-key-4d1e8a07c2";
    public const string Token = "studio-test-token-93b0f5e6a1d74c28";
    public const string BundledFashion = "/usr/share/datasets/fashion-mnist";
    public const int TrainerReplicas = 2;

    private readonly PipelineApp app;

    private StudioGraph(PipelineApp app) => this.app = app;

    /// <summary>The studio's address (ends with '/').</summary>
    public Uri Url => EnsureSlash(app.GetEndpoint("studio"));

    public Uri LoginUrl => new(Url, "login?t=" + Token);

    /// <summary>The whole system (RabbitMQ, Azurite, Prometheus, ingest, preprocess, two trainers, evaluator) with the studio.</summary>
    public static async Task<StudioGraph> StartSystemAsync()
    {
        var app = await PipelineApp.StartAsync(RunFolder(),
            [$"--PIPELINE_API_KEY={ApiKey}", $"--PIPELINE_STUDIO_TOKEN={Token}", $"--PIPELINE_TRAINER_REPLICAS={TrainerReplicas}"],
            TimeSpan.FromMinutes(12), // the first build of the services
            "rabbitmq", "blobs", "ingest", "preprocess", "trainer", "evaluator", "prometheus", "studio");
        return new StudioGraph(app);
    }

    /// <summary>The studio alone, its jobs API at <paramref name="jobsApi"/> (a server the test runs), or none.</summary>
    public static async Task<StudioGraph> StartStudioAsync(Uri? jobsApi)
    {
        var app = await PipelineApp.StartPartAsync(RunFolder(), (builder, run) =>
        {
            var studio = builder.AddProject("studio", Path.Combine(run.AppDirectory, "src", "Pipeline.Studio", "Pipeline.Studio.csproj"))
                .WithHttpEndpoint(name: "http")
                .WithHttpHealthCheck("/health/ready")
                .WithEnvironment("PIPELINE_API_KEY", ApiKey)
                .WithEnvironment("PIPELINE_STUDIO_TOKEN", Token)
                .WithEnvironment("PIPELINE_BUNDLED_DATASETS", $"Fashion-MNIST={BundledFashion};Missing=/nonexistent/dataset");
            if (jobsApi is not null)
            {
                // What a reference to the ingest resource injects.
                studio.WithEnvironment("services__ingest__http__0", jobsApi.ToString().TrimEnd('/'));
            }
        }, TimeSpan.FromMinutes(5), "studio");
        return new StudioGraph(app);
    }

    private static string RunFolder() => Path.Combine(Path.GetTempPath(), "pipeline-tests", "studio-" + Guid.NewGuid().ToString("N")[..8]);

    private static Uri EnsureSlash(Uri uri) => uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");

    public async ValueTask DisposeAsync()
    {
        var run = app.RunDirectory;
        await app.DisposeAsync();
        if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
    }
}
