using System.Globalization;
using Pipeline.Distributed;
using Pipeline.Training.Data;
using Pipeline.Vision;
using TorchSharp;
using static TorchSharp.torch;

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
/// Data parallelism over Pipeline.Distributed: rank 0 serves the rendezvous store on <c>MASTER_ADDR</c> (bound to that
/// address alone), Gloo for CPU training (NCCL for CUDA, where the native library was built with it), and its
/// DistributedDataParallel (gradients all-reduced in flat buckets after backward). Every collective is bounded by the
/// timeout, and a lost rank fails the others' next collective with a <see cref="DistributedException"/> naming it.
/// </summary>
public sealed class ProcessGroupParallel : IDataParallel, IDisposable
{
    /// <summary>The network interface Gloo binds to on a machine with several (PyTorch's variable).</summary>
    public const string InterfaceVariable = "GLOO_SOCKET_IFNAME";

    private readonly ProcessGroup group;
    private readonly long bucketCapBytes;

    /// <param name="device">CUDA training gets NCCL (when the native library was built with it; otherwise joining fails saying so), CPU gets Gloo.</param>
    public ProcessGroupParallel(DistributedSettings settings, Device? device = null, double bucketCapMb = 25)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var backend = device is { type: DeviceType.CUDA } ? Backend.Nccl : Backend.Gloo;
        // Gloo binds to the named interface, else to the loopback address when the group is on this machine alone,
        // else to this host's name (which every other rank must resolve).
        var loopback = System.Net.IPAddress.TryParse(settings.MasterAddr, out var address) && System.Net.IPAddress.IsLoopback(address)
            || settings.MasterAddr == "localhost";
        group = ProcessGroup.Join(new ProcessGroupOptions(settings.MasterAddr, settings.MasterPort, settings.Rank, settings.WorldSize,
            settings.EffectiveTimeout, backend, Environment.GetEnvironmentVariable(InterfaceVariable) is { Length: > 0 } i ? i : null,
            loopback ? settings.MasterAddr : null));
        bucketCapBytes = (long)(bucketCapMb * 1024 * 1024);
        LocalRank = settings.LocalRank ?? settings.Rank;
    }

    public int Rank => group.Rank;
    public int LocalRank { get; }
    public int WorldSize => group.WorldSize;
    public ProcessGroup Group => group;

    public DistributedDataParallel? Attach(nn.Module model) => new(model, group, bucketCapBytes);

    public void SyncBuffers(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (WorldSize == 1) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // One broadcast per dtype (BatchNorm has float statistics and an int64 counter) rather than one per buffer.
        foreach (var kind in model.buffers().GroupBy(b => (b.dtype, b.device_type)))
        {
            var buffers = kind.ToArray();
            var flat = cat([.. buffers.Select(b => b.reshape(-1))]).contiguous();
            group.Broadcast(flat, 0);
            long offset = 0;
            foreach (var b in buffers)
            {
                b.copy_(flat.narrow(0, offset, b.numel()).view(b.shape));
                offset += b.numel();
            }
        }
    }

    public double[] SumOverRanks(double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length == 0) return [];
        using var t = tensor(values);
        group.AllReduce(t, ReduceOp.Sum);
        return t.ToArray<double>();
    }

    /// <summary>Every rank's bytes (of any length), in rank order: each rank fills its own row of a zero matrix and the
    /// rows are summed, which moves the bytes exactly (int64 sums of one non-zero term).</summary>
    public byte[][] AllGather(byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        using var scope = NewDisposeScope();
        var lengths = zeros(WorldSize, dtype: ScalarType.Int64);
        lengths[Rank] = tensor((long)value.Length);
        group.AllReduce(lengths, ReduceOp.Sum);
        var sizes = lengths.ToArray<long>();
        var width = sizes.Max();
        var rows = zeros([WorldSize, width], ScalarType.Int64);
        rows[Rank].narrow(0, 0, value.Length).copy_(tensor(value).to(ScalarType.Int64));
        group.AllReduce(rows, ReduceOp.Sum);
        var all = rows.to(ScalarType.Byte);
        return [.. Enumerable.Range(0, WorldSize).Select(r => all[r].narrow(0, 0, sizes[r]).ToArray<byte>())];
    }

    public IEpochSampler Shard(IEpochSampler sampler, bool padToEqual) => new DistributedSampler(sampler, Rank, WorldSize, padToEqual);

    public void Dispose() => group.Dispose();
}
