using System.Globalization;
using Pipeline.Torch;
using Pipeline.Training.Data;
using static Pipeline.Torch.torch;

namespace Pipeline.Training.Distributed;

/// <summary>
/// How a rank finds its group, in torchrun's convention: <c>MASTER_ADDR</c> (default 127.0.0.1), <c>MASTER_PORT</c>
/// (default 29500), <c>RANK</c>, <c>WORLD_SIZE</c>; plus <c>PIPELINE_DIST_TIMEOUT</c> (seconds), which bounds the
/// rendezvous and every collective, so that a lost rank fails the others instead of hanging them. <c>LOCAL_RANK</c> (the
/// rank among this machine's processes; default: the rank) picks the rank's GPU.
/// </summary>
public sealed record DistributedSettings(int Rank, int WorldSize, string MasterAddr = "127.0.0.1", int MasterPort = 29500, TimeSpan? Timeout = null,
    int? LocalRank = null)
{
    public const string RankVariable = "RANK";
    public const string WorldSizeVariable = "WORLD_SIZE";
    public const string LocalRankVariable = "LOCAL_RANK";
    public const string MasterAddrVariable = "MASTER_ADDR";
    public const string MasterPortVariable = "MASTER_PORT";
    public const string TimeoutVariable = "PIPELINE_DIST_TIMEOUT";

    /// <summary>Five minutes: long enough for a slow checkpoint on another rank, short enough to notice a lost one.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    public TimeSpan EffectiveTimeout => Timeout ?? DefaultTimeout;

    /// <summary>A TCP port free on this machine now, for rank 0's store (bound right after by the caller).</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The settings in <paramref name="environment"/>, or null when it names no world size (not a launched rank).</summary>
    public static DistributedSettings? FromEnvironment(IReadOnlyDictionary<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        string? Get(string name) => environment.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v : null;
        int Int(string name, string value) => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? n : throw new ArgumentException($"{name}={value}: not an integer");
        if (Get(WorldSizeVariable) is not { } world) return null;
        var worldSize = Int(WorldSizeVariable, world);
        var rank = Get(RankVariable) is { } r ? Int(RankVariable, r) : throw new ArgumentException($"{WorldSizeVariable} is set but {RankVariable} is not");
        if (worldSize < 1) throw new ArgumentException($"{WorldSizeVariable}={worldSize}: must be at least 1");
        if (rank < 0 || rank >= worldSize) throw new ArgumentException($"{RankVariable}={rank}: must be in [0, {worldSize})");
        var port = Get(MasterPortVariable) is { } p ? Int(MasterPortVariable, p) : 29500;
        TimeSpan? timeout = null;
        if (Get(TimeoutVariable) is { } t)
        {
            if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
                throw new ArgumentException($"{TimeoutVariable}={t}: not a positive number of seconds");
            timeout = TimeSpan.FromSeconds(seconds);
        }
        int? localRank = null;
        if (Get(LocalRankVariable) is { } l)
        {
            localRank = Int(LocalRankVariable, l);
            if (localRank < 0) throw new ArgumentException($"{LocalRankVariable}={localRank}: must not be negative");
        }
        return new DistributedSettings(rank, worldSize, Get(MasterAddrVariable) ?? "127.0.0.1", port, timeout, localRank);
    }

    /// <summary>The settings of this process's environment, or null when it is not a launched rank.</summary>
    public static DistributedSettings? FromEnvironment()
    {
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var name in new[] { RankVariable, WorldSizeVariable, LocalRankVariable, MasterAddrVariable, MasterPortVariable, TimeoutVariable })
            variables[name] = Environment.GetEnvironmentVariable(name);
        return FromEnvironment(variables);
    }
}

/// <summary>
/// Data parallelism over the engine's <c>torch.distributed</c>: a TCPStore rendezvous, Gloo for CPU training (NCCL
/// for CUDA), and the engine's DistributedDataParallel (c10d-style Reducer: bucketed gradient all-reduce overlapped
/// with backward, no_sync for accumulation, rank 0's buffers broadcast before each training forward).
/// </summary>
public sealed class ProcessGroupParallel : IDataParallel, IDisposable
{
    private readonly distributed.ProcessGroup group;
    private readonly double bucketCapMb;

    /// <param name="device">CUDA training gets NCCL (when the engine was built with it; otherwise joining fails saying so), CPU gets Gloo.</param>
    public ProcessGroupParallel(DistributedSettings settings, Device? device = null, double bucketCapMb = 25)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var backend = device is { Type: DeviceType.CUDA } ? "nccl" : "gloo";
        group = distributed.init_process_group(backend, settings.Rank, settings.WorldSize, settings.MasterAddr, settings.MasterPort, settings.EffectiveTimeout);
        this.bucketCapMb = bucketCapMb;
        LocalRank = settings.LocalRank ?? settings.Rank;
    }

    public int Rank => group.rank;
    public int LocalRank { get; }
    public int WorldSize => group.world_size;
    public distributed.ProcessGroup Group => group;

    public nn.Module<Tensor, Tensor> Wrap(nn.Module<Tensor, Tensor> model) =>
        new nn.parallel.DistributedDataParallel(model, group, bucketCapMb, broadcast_buffers: true);

    public IDisposable? NoSync(nn.Module<Tensor, Tensor> wrapped) =>
        wrapped is nn.parallel.DistributedDataParallel ddp ? ddp.no_sync() : null;

    public void SyncBuffers(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Tensor[] buffers = [.. model.buffers()];
        if (buffers.Length > 0 && WorldSize > 1) group.broadcast_coalesced(buffers, 0);
    }

    public double[] SumOverRanks(double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length == 0) return [];
        using var t = tensor(values);
        group.all_reduce(t, distributed.ReduceOp.SUM);
        return t.ToArray<double>();
    }

    public byte[][] AllGather(byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        using var scope = NewDisposeScope();
        return [.. group.all_gather(tensor(value)).Select(t => t.ToArray<byte>())];
    }

    public IEpochSampler Shard(IEpochSampler sampler, bool padToEqual) => new DistributedSampler(sampler, Rank, WorldSize, padToEqual);

    public void Dispose() => group.Dispose();
}
