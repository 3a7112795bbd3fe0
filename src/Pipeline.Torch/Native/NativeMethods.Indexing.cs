using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

/// <summary>One entry of an index expression; layout matches the shim's <c>PtIndex</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeIndex
{
    public int Kind;   // 0 integer, 1 slice, 2 ellipsis, 3 none, 4 tensor
    public int Flags;  // slice: 1 has start, 2 has stop
    public long Start;
    public long Stop;
    public long Step;
    public IntPtr Tensor;
}

// native/indexing.cpp
internal static partial class NativeMethods
{
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_index(TensorHandle a, NativeIndex* items, int n);
    [LibraryImport(Lib)] internal static unsafe partial int pt_index_put_(TensorHandle a, NativeIndex* items, int n, TensorHandle value);
    [LibraryImport(Lib)] internal static unsafe partial int pt_index_put_scalar_(TensorHandle a, NativeIndex* items, int n, Scalar value);

    [LibraryImport(Lib)] internal static partial IntPtr pt_select(TensorHandle a, long dim, long index);
    [LibraryImport(Lib)] internal static partial IntPtr pt_narrow(TensorHandle a, long dim, long start, long length);
    [LibraryImport(Lib)] internal static partial IntPtr pt_slice(TensorHandle a, long dim, long start, int hasStart, long end, int hasEnd, long step);

    [LibraryImport(Lib)] internal static partial IntPtr pt_index_select(TensorHandle a, long dim, TensorHandle index);
    [LibraryImport(Lib)] internal static partial IntPtr pt_gather(TensorHandle a, long dim, TensorHandle index);
    [LibraryImport(Lib)] internal static partial IntPtr pt_scatter(TensorHandle a, long dim, TensorHandle index, TensorHandle src);
    [LibraryImport(Lib)] internal static partial IntPtr pt_scatter_value(TensorHandle a, long dim, TensorHandle index, Scalar value);
    [LibraryImport(Lib)] internal static partial IntPtr pt_scatter_add(TensorHandle a, long dim, TensorHandle index, TensorHandle src);
    [LibraryImport(Lib)] internal static partial int pt_scatter_(TensorHandle a, long dim, TensorHandle index, TensorHandle src);
    [LibraryImport(Lib)] internal static partial int pt_scatter_add_(TensorHandle a, long dim, TensorHandle index, TensorHandle src);

    [LibraryImport(Lib)] internal static partial IntPtr pt_masked_fill(TensorHandle a, TensorHandle mask, Scalar value);
    [LibraryImport(Lib)] internal static partial int pt_masked_fill_(TensorHandle a, TensorHandle mask, Scalar value);
    [LibraryImport(Lib)] internal static partial IntPtr pt_masked_select(TensorHandle a, TensorHandle mask);
    [LibraryImport(Lib)] internal static partial IntPtr pt_where(TensorHandle condition, TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_where_scalar(TensorHandle condition, TensorHandle a, Scalar b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_where_scalar_first(TensorHandle condition, Scalar a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_nonzero(TensorHandle a);

    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_expand(TensorHandle a, long* sizes, int n);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_repeat(TensorHandle a, long* sizes, int n);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_flip(TensorHandle a, long* dims, int n);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_roll(TensorHandle a, long* shifts, int nshifts, long* dims, int ndims);
    [LibraryImport(Lib)] internal static partial IntPtr pt_one_hot(TensorHandle a, long numClasses);
    [LibraryImport(Lib)] internal static partial IntPtr pt_tril(TensorHandle a, long diagonal);
    [LibraryImport(Lib)] internal static partial IntPtr pt_triu(TensorHandle a, long diagonal);

    [LibraryImport(Lib)] internal static partial IntPtr pt_split(TensorHandle a, long size, long dim, out int count);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_split_with_sizes(TensorHandle a, long* sizes, int n, long dim, out int count);
    [LibraryImport(Lib)] internal static partial IntPtr pt_chunk(TensorHandle a, long chunks, long dim, out int count);
    [LibraryImport(Lib)] internal static partial IntPtr pt_unbind(TensorHandle a, long dim, out int count);
}
