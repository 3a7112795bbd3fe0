using Microsoft.Extensions.Hosting;

namespace Pipeline.AppHost.Hosting;

/// <summary>
/// A background loop that starts before Aspire's own hosted services. Aspire's orchestrator returns from its StartAsync
/// only once every resource has been created, which waits for each resource's <c>WaitFor</c>s: a loop started after it
/// would miss the start (and a supervisor would not see a crash during it).
/// </summary>
public abstract class LoopService : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private Task? loop;

    protected abstract Task RunAsync(CancellationToken stoppingToken);

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        loop = Task.Run(() => RunAsync(stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await stopping.CancelAsync();
        if (loop is not null)
        {
            await loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}
