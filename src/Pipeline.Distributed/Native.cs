using System.Runtime.InteropServices;

namespace Pipeline.Distributed;

/// <summary>The C ABI of libpipeline_distributed (native/pipeline_distributed.h).</summary>
internal static partial class Native
{
    private const string Library = "pipeline_distributed";

    [LibraryImport(Library, EntryPoint = "pd_last_error")]
    private static partial IntPtr LastErrorPointer();

    [LibraryImport(Library, EntryPoint = "pd_gloo_library")]
    private static partial IntPtr GlooLibraryPointer();

    [LibraryImport(Library, EntryPoint = "pd_has_backend")]
    internal static partial int HasBackend(int backend);

    [LibraryImport(Library, EntryPoint = "pd_group_new", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial GroupHandle GroupNew(string storeHost, int storePort, int rank, int size, int backend, long timeoutMs, string? iface, string? bindHost);

    [LibraryImport(Library, EntryPoint = "pd_group_free")]
    internal static partial void GroupFree(IntPtr group);

    [LibraryImport(Library, EntryPoint = "pd_all_reduce")]
    internal static partial int AllReduce(GroupHandle group, IntPtr data, long count, int dtype, int op);

    [LibraryImport(Library, EntryPoint = "pd_broadcast")]
    internal static partial int Broadcast(GroupHandle group, IntPtr data, long count, int dtype, int root);

    [LibraryImport(Library, EntryPoint = "pd_barrier")]
    internal static partial int Barrier(GroupHandle group);

    [LibraryImport(Library, EntryPoint = "pd_lost_ranks")]
    internal static unsafe partial int LostRanks(GroupHandle group, int* buffer, int capacity);

    [LibraryImport(Library, EntryPoint = "pd_store_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int StoreSet(GroupHandle group, string key, byte* value, long length);

    [LibraryImport(Library, EntryPoint = "pd_store_get", StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial long StoreGet(GroupHandle group, string key, byte* buffer, long capacity);

    [LibraryImport(Library, EntryPoint = "pd_store_add", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int StoreAdd(GroupHandle group, string key, long delta, out long result);

    internal static string LastError() => Marshal.PtrToStringUTF8(LastErrorPointer()) ?? "";

    internal static string GlooLibrary() => Marshal.PtrToStringUTF8(GlooLibraryPointer()) ?? "";
}

/// <summary>Owns one native process group; freeing it leaves the group (and, on rank 0, stops the store).</summary>
internal sealed class GroupHandle : SafeHandle
{
    public GroupHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        Native.GroupFree(handle);
        return true;
    }
}
