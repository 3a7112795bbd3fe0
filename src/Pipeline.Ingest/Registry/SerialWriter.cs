using Microsoft.EntityFrameworkCore;

namespace Pipeline.Ingest.Registry;

/// <summary>
/// Runs a registry's writes one at a time, each on a fresh context: consumers of many event types update the same rows
/// (a read-modify-write must not interleave with another), and SQLite has one writer anyway.
/// </summary>
public sealed class SerialWriter<TContext>(IDbContextFactory<TContext> contexts) where TContext : DbContext
{
    private readonly SemaphoreSlim gate = new(1, 1);

    public async Task<T> WriteAsync<T>(Func<TContext, Task<T>> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            return await write(db).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }
}
