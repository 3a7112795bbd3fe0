using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Distributed;

public enum Backend
{
    /// <summary>CPU tensors, over Debian's libgloo.</summary>
    Gloo = 0,
    /// <summary>CUDA tensors; only in builds made against nccl.h (<see cref="ProcessGroup.IsAvailable"/>).</summary>
    Nccl = 1,
}

public enum ReduceOp
{
    Sum = 0,
    /// <summary>Sum divided by the world size (floating-point tensors).</summary>
    Avg = 1,
    Max = 2,
    Min = 3,
}

/// <summary>How a rank joins its group.</summary>
/// <param name="StoreHost">Where rank 0 serves the rendezvous store, bound to this address alone (MASTER_ADDR; every rank connects there; no shared file system).</param>
/// <param name="StorePort">The store's TCP port.</param>
/// <param name="Timeout">Bounds the rendezvous, every store request and every collective.</param>
/// <param name="Interface">The network interface Gloo binds to (e.g. eth0); else <paramref name="BindHost"/>; else this host's name.</param>
/// <param name="BindHost">The address or name Gloo binds to, reachable by every other rank.</param>
public sealed record ProcessGroupOptions(
    string StoreHost,
    int StorePort,
    int Rank,
    int WorldSize,
    TimeSpan Timeout,
    Backend Backend = Backend.Gloo,
    string? Interface = null,
    string? BindHost = null);

/// <summary>
/// One rank of a group of processes that run collectives in place on TorchSharp tensors: contiguous CPU tensors of
/// float32, float64, bfloat16 or int64 for Gloo. Every rank must issue the same collectives in the same order. A
/// rank that dies makes the others' next collective throw a <see cref="DistributedException"/> naming it, within
/// the timeout. Not thread-safe for concurrent collectives (the native side serialises them).
/// </summary>
public sealed class ProcessGroup : IDisposable
{
    private readonly GroupHandle handle;

    private ProcessGroup(GroupHandle handle, ProcessGroupOptions options)
    {
        this.handle = handle;
        Rank = options.Rank;
        WorldSize = options.WorldSize;
        Backend = options.Backend;
        Timeout = options.Timeout;
    }

    public int Rank { get; }
    public int WorldSize { get; }
    public Backend Backend { get; }
    public TimeSpan Timeout { get; }

    /// <summary>Whether this build of the native library has the backend.</summary>
    public static bool IsAvailable(Backend backend) => Native.HasBackend((int)backend) == 1;

    /// <summary>The file Gloo's entry points were bound to: Debian's libgloo, never TorchSharp's libtorch_cpu.</summary>
    public static string GlooLibrary => Native.GlooLibrary();

    /// <summary>Joins the group; returns once every rank has joined (or throws after the timeout).</summary>
    public static ProcessGroup Join(ProcessGroupOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handle = Native.GroupNew(options.StoreHost, options.StorePort, options.Rank, options.WorldSize, (int)options.Backend,
            (long)options.Timeout.TotalMilliseconds, options.Interface, options.BindHost);
        if (handle.IsInvalid)
        {
            var message = Native.LastError();
            handle.Dispose();
            throw new DistributedException(message);
        }
        return new ProcessGroup(handle, options);
    }

    /// <summary>Reduces <paramref name="tensor"/> across every rank, in place.</summary>
    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        var (data, count, dtype) = Buffer(tensor);
        Check(Native.AllReduce(handle, data, count, dtype, (int)op));
    }

    /// <summary>Copies <paramref name="root"/>'s <paramref name="tensor"/> into every rank's, in place.</summary>
    public void Broadcast(Tensor tensor, int root = 0)
    {
        var (data, count, dtype) = Buffer(tensor);
        Check(Native.Broadcast(handle, data, count, dtype, root));
    }

    public void Barrier() => Check(Native.Barrier(handle));

    /// <summary>Sets a key in the group's store (for the caller's own rendezvous: run ids, addresses...).</summary>
    public unsafe void StoreSet(string key, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value) Check(Native.StoreSet(handle, key, p, value.Length));
    }

    /// <summary>Gets a key from the group's store, waiting for it up to the timeout.</summary>
    public unsafe byte[] StoreGet(string key)
    {
        var buffer = new byte[256];
        for (; ; )
        {
            long length;
            fixed (byte* p = buffer) length = Native.StoreGet(handle, key, p, buffer.Length);
            if (length < 0) throw Failure();
            if (length <= buffer.Length) return buffer[..(int)length];
            buffer = new byte[length];
        }
    }

    public string StoreGetString(string key) => Encoding.UTF8.GetString(StoreGet(key));

    /// <summary>Adds to an int64 counter in the group's store; returns its new value.</summary>
    public long StoreAdd(string key, long delta)
    {
        Check(Native.StoreAdd(handle, key, delta, out var result));
        return result;
    }

    public void Dispose() => handle.Dispose();

    private (IntPtr Data, long Count, int Dtype) Buffer(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ObjectDisposedException.ThrowIf(handle.IsClosed, this);
        if (Backend == Backend.Gloo && tensor.device_type != DeviceType.CPU)
            throw new ArgumentException($"gloo collectives need CPU tensors, got one on {tensor.device}", nameof(tensor));
        if (!tensor.is_contiguous()) throw new ArgumentException("collectives work in place on contiguous tensors", nameof(tensor));
        var dtype = tensor.dtype switch
        {
            ScalarType.Float32 => 0,
            ScalarType.Float64 => 1,
            ScalarType.BFloat16 => 2,
            ScalarType.Int64 => 3,
            _ => throw new ArgumentException($"collectives support float32, float64, bfloat16 and int64, not {tensor.dtype}", nameof(tensor)),
        };
        return (TensorBuffer.Pointer(tensor), tensor.numel(), dtype);
    }

    private void Check(int rc)
    {
        if (rc != 0) throw Failure();
    }

    private unsafe DistributedException Failure()
    {
        var message = Native.LastError();
        var lost = new int[WorldSize];
        int n;
        fixed (int* p = lost) n = Native.LostRanks(handle, p, lost.Length);
        return new DistributedException(message, lost[..Math.Min(n, lost.Length)]);
    }
}
