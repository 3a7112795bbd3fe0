using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Pipeline.Hosting;

public sealed record LogLine(DateTimeOffset Timestamp, bool IsError, string Text);

/// <summary>Console output of one instance: the last N lines in memory (for the dashboard), every
/// line in a file of the run folder, and a live tail for subscribers.</summary>
public sealed class LogRing : IDisposable
{
    private readonly Lock gate = new();
    private readonly LogLine[] ring;
    private readonly StreamWriter? file;
    private readonly List<Channel<LogLine>> subscribers = [];
    private long count;
    private bool disposed;

    public LogRing(int capacity, string? filePath)
    {
        ring = new LogLine[capacity];
        if (filePath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(filePath)!);
            file = new StreamWriter(filePath, append: true) { AutoFlush = true };
        }
    }

    public string? FilePath => (file?.BaseStream as FileStream)?.Name;

    /// <summary>Lines ever written, including those the ring has dropped.</summary>
    public long Count
    {
        get
        {
            lock (gate)
            {
                return count;
            }
        }
    }

    public void Add(bool isError, string text)
    {
        var line = new LogLine(DateTimeOffset.UtcNow, isError, text);
        lock (gate)
        {
            ring[count % ring.Length] = line;
            count++;
            if (!disposed)
            {
                file?.WriteLine($"{line.Timestamp:O} {(isError ? "err" : "out")} {text}");
            }
            foreach (var s in subscribers)
            {
                s.Writer.TryWrite(line);
            }
        }
    }

    /// <summary>The retained lines, oldest first.</summary>
    public IReadOnlyList<LogLine> Snapshot()
    {
        lock (gate)
        {
            return SnapshotUnlocked();
        }
    }

    /// <summary>The retained lines, then each new one.</summary>
    public async IAsyncEnumerable<LogLine> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<LogLine>(new UnboundedChannelOptions { SingleReader = true });
        lock (gate)
        {
            foreach (var line in SnapshotUnlocked())
            {
                channel.Writer.TryWrite(line);
            }
            subscribers.Add(channel);
        }
        try
        {
            await foreach (var line in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return line;
            }
        }
        finally
        {
            lock (gate)
            {
                subscribers.Remove(channel);
            }
        }
    }

    private LogLine[] SnapshotUnlocked()
    {
        var kept = (int)Math.Min(count, ring.Length);
        var result = new LogLine[kept];
        for (var i = 0; i < kept; i++)
        {
            result[i] = ring[(count - kept + i) % ring.Length];
        }
        return result;
    }

    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            file?.Dispose();
            foreach (var s in subscribers)
            {
                s.Writer.TryComplete();
            }
        }
    }
}

/// <summary>The log rings of a run, one per instance (and per child resource's build output).</summary>
public sealed class ResourceLogs(DistributedApplicationOptions options) : IDisposable
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, LogRing> rings = new(StringComparer.Ordinal);

    public LogRing this[string instanceName]
    {
        get
        {
            lock (gate)
            {
                if (!rings.TryGetValue(instanceName, out var ring))
                {
                    ring = new LogRing(options.LogCapacity, Path.Combine(options.RunDirectory, "logs", instanceName + ".log"));
                    rings[instanceName] = ring;
                }
                return ring;
            }
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            foreach (var r in rings.Values)
            {
                r.Dispose();
            }
        }
    }
}
