using Pipeline.Hosting;
using Pipeline.Hosting.Testing;

namespace Pipeline.ServiceDefaults.Tests;

/// <summary>A real RabbitMQ and Azurite, started once for the test class through the orchestrator's testing entry point.</summary>
public sealed class InfrastructureFixture : IAsyncLifetime
{
    public DistributedApplication App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        builder.AddRabbitMQ("rabbitmq");
        builder.AddAzurite("storage").AddBlobs("blobs");
        App = await builder.BuildAsync();
        await App.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await App.Resources.WaitForResourceHealthyAsync("rabbitmq", timeout.Token);
        await App.Resources.WaitForResourceHealthyAsync("blobs", timeout.Token);
    }

    public async Task DisposeAsync() => await App.DisposeAsync();
}
