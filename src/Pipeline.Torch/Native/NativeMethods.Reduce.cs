using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

// native/reduce.cpp
internal static partial class NativeMethods
{
    [LibraryImport(Lib)] internal static partial IntPtr pt_max_all(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_min_all(TensorHandle a);
    [LibraryImport(Lib)] internal static partial int pt_max_dim(TensorHandle a, long dim, int keepdim, out IntPtr values, out IntPtr indices);
    [LibraryImport(Lib)] internal static partial int pt_min_dim(TensorHandle a, long dim, int keepdim, out IntPtr values, out IntPtr indices);
    [LibraryImport(Lib)] internal static partial IntPtr pt_argmax(TensorHandle a, long dim, int hasDim, int keepdim);
    [LibraryImport(Lib)] internal static partial IntPtr pt_argmin(TensorHandle a, long dim, int hasDim, int keepdim);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_amax(TensorHandle a, long* dims, int ndims, int keepdim);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_amin(TensorHandle a, long* dims, int ndims, int keepdim);
    [LibraryImport(Lib)] internal static partial IntPtr pt_prod(TensorHandle a, long dim, int hasDim, int keepdim, int dtype);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_std(TensorHandle a, long* dims, int ndims, int unbiased, int keepdim);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_var(TensorHandle a, long* dims, int ndims, int unbiased, int keepdim);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_norm(TensorHandle a, double p, long* dims, int ndims, int keepdim);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_logsumexp(TensorHandle a, long* dims, int ndims, int keepdim);
    [LibraryImport(Lib)] internal static partial IntPtr pt_cumsum(TensorHandle a, long dim, int dtype);
    [LibraryImport(Lib)] internal static partial IntPtr pt_cumprod(TensorHandle a, long dim, int dtype);
    [LibraryImport(Lib)] internal static partial IntPtr pt_any(TensorHandle a, long dim, int hasDim, int keepdim);
    [LibraryImport(Lib)] internal static partial IntPtr pt_all(TensorHandle a, long dim, int hasDim, int keepdim);
    [LibraryImport(Lib)] internal static partial IntPtr pt_softmax(TensorHandle a, long dim, int dtype);
    [LibraryImport(Lib)] internal static partial IntPtr pt_log_softmax(TensorHandle a, long dim, int dtype);
    [LibraryImport(Lib)] internal static partial int pt_topk(TensorHandle a, long k, long dim, int largest, int sorted, out IntPtr values, out IntPtr indices);
    [LibraryImport(Lib)] internal static partial int pt_sort(TensorHandle a, long dim, int descending, int stable, out IntPtr values, out IntPtr indices);
    [LibraryImport(Lib)] internal static partial IntPtr pt_argsort(TensorHandle a, long dim, int descending);
}
