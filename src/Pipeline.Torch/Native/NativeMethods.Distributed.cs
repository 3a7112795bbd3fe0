using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

// native/distributed.cpp
internal static partial class NativeMethods
{
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr pt_store_new(string host, int port, int isServer, int worldSize, long timeoutMs);
    [LibraryImport(Lib)] internal static partial void pt_store_free(IntPtr store);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int pt_store_set(StoreHandle store, string key, byte* value, int length);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int pt_store_get(StoreHandle store, string key, byte* buffer, int capacity);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int pt_store_add(StoreHandle store, string key, long delta, out long result);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr pt_pg_new(StoreHandle store, int backend, int rank, int size, long timeoutMs, string iface, string hostname);
    [LibraryImport(Lib)] internal static partial void pt_pg_free(IntPtr group);
    [LibraryImport(Lib)] internal static partial int pt_pg_rank(ProcessGroupHandle group);
    [LibraryImport(Lib)] internal static partial int pt_pg_size(ProcessGroupHandle group);
    [LibraryImport(Lib)] internal static unsafe partial int pt_pg_lost_ranks(ProcessGroupHandle group, int* buffer, int capacity);
    [LibraryImport(Lib)] internal static partial IntPtr pt_pg_all_reduce(ProcessGroupHandle group, TensorHandle tensor, int op);
    [LibraryImport(Lib)] internal static partial IntPtr pt_pg_broadcast(ProcessGroupHandle group, TensorHandle tensor, int root);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_pg_all_gather(ProcessGroupHandle group, IntPtr* outputs, int n, TensorHandle input);
    [LibraryImport(Lib)] internal static partial IntPtr pt_pg_barrier(ProcessGroupHandle group);
    [LibraryImport(Lib)] internal static unsafe partial int pt_pg_broadcast_coalesced(ProcessGroupHandle group, IntPtr* tensors, int n, int root);

    [LibraryImport(Lib)] internal static partial int pt_work_wait(WorkHandle work);
    [LibraryImport(Lib)] internal static partial int pt_work_is_completed(WorkHandle work);
    [LibraryImport(Lib)] internal static partial void pt_work_free(IntPtr work);

    [LibraryImport(Lib)]
    internal static unsafe partial IntPtr pt_ddp_new(ProcessGroupHandle group, IntPtr* parameters, int n, IntPtr* buffers, int nbuf, long bucketCapBytes, int overlap);
    [LibraryImport(Lib)] internal static partial void pt_ddp_free(IntPtr ddp);
    [LibraryImport(Lib)] internal static partial int pt_ddp_set_sync(DdpHandle ddp, int on);
    [LibraryImport(Lib)] internal static partial int pt_ddp_bucket_count(DdpHandle ddp);
}

/// <summary>Owns a native TCPStore (server or client).</summary>
internal sealed class StoreHandle : SafeHandle
{
    public StoreHandle() : base(IntPtr.Zero, ownsHandle: true) { }
    internal StoreHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle()
    {
        NativeMethods.pt_store_free(handle);
        return true;
    }
}

/// <summary>Owns a native process group (its backend, heartbeat and store reference).</summary>
internal sealed class ProcessGroupHandle : SafeHandle
{
    public ProcessGroupHandle() : base(IntPtr.Zero, ownsHandle: true) { }
    internal ProcessGroupHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle()
    {
        NativeMethods.pt_pg_free(handle);
        return true;
    }
}

/// <summary>Owns an issued collective.</summary>
internal sealed class WorkHandle : SafeHandle
{
    public WorkHandle() : base(IntPtr.Zero, ownsHandle: true) { }
    internal WorkHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle()
    {
        NativeMethods.pt_work_free(handle);
        return true;
    }
}

/// <summary>Owns a native gradient reducer (its autograd hooks go quiet once it is freed).</summary>
internal sealed class DdpHandle : SafeHandle
{
    public DdpHandle() : base(IntPtr.Zero, ownsHandle: true) { }
    internal DdpHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle()
    {
        NativeMethods.pt_ddp_free(handle);
        return true;
    }
}
