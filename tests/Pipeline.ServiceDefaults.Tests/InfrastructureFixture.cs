using Pipeline.AppHost.Hosting;
using Pipeline.Tests.Support;

namespace Pipeline.ServiceDefaults.Tests;

/// <summary>A real RabbitMQ and Azurite, started once for the test class through Aspire.Hosting.Testing with the
/// AppHost's own resource types (the services are left out: they would consume the tests' messages).</summary>
public sealed class InfrastructureFixture : IAsyncLifetime
{
    public PipelineApp App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var run = Path.Combine(Path.GetTempPath(), "pipeline-tests", "infrastructure-" + Guid.NewGuid().ToString("N")[..8]);
        App = await PipelineApp.StartPartAsync(run, (builder, pipelineRun) =>
        {
            builder.AddRabbitMQServer("rabbitmq", pipelineRun);
            builder.AddAzurite("storage", pipelineRun).AddBlobs("blobs");
        }, TimeSpan.FromMinutes(3), "rabbitmq", "blobs");
    }

    public async Task DisposeAsync()
    {
        var run = App.RunDirectory;
        await App.DisposeAsync();
        Directory.Delete(run, recursive: true);
    }
}
