using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

// native/core.cpp
internal static partial class NativeMethods
{
    [LibraryImport(Lib)] internal static partial void pt_tensor_free(IntPtr t);
    [LibraryImport(Lib)] internal static partial void pt_free_array(IntPtr list);
    [LibraryImport(Lib)] internal static partial int pt_get_num_threads();
    [LibraryImport(Lib)] internal static partial int pt_set_num_threads(int n);
    [LibraryImport(Lib)] internal static unsafe partial int pt_version(byte* buffer, int capacity);

    [LibraryImport(Lib)] internal static partial int pt_cuda_is_available();
    [LibraryImport(Lib)] internal static partial int pt_cuda_device_count();
    [LibraryImport(Lib)] internal static partial int pt_cuda_synchronize(int index);
    [LibraryImport(Lib)] internal static partial int pt_manual_seed(long seed);
    [LibraryImport(Lib)] internal static partial int pt_set_deterministic(int on);
    [LibraryImport(Lib)] internal static partial IntPtr pt_get_rng_state();
    [LibraryImport(Lib)] internal static partial int pt_set_rng_state(TensorHandle state);

    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_empty(long* shape, int ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_zeros(long* shape, int ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_ones(long* shape, int ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_full(long* shape, int ndim, Scalar value, int dtype, int devType, int devIndex, int requiresGrad);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_rand(long* shape, int ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_randn(long* shape, int ndim, int dtype, int devType, int devIndex, int requiresGrad);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_randint(long low, long high, long* shape, int ndim, int dtype, int devType, int devIndex);
    [LibraryImport(Lib)] internal static partial IntPtr pt_randperm(long n, int dtype, int devType, int devIndex);
    [LibraryImport(Lib)] internal static partial IntPtr pt_arange(Scalar start, Scalar end, Scalar step, int dtype, int devType, int devIndex, int requiresGrad);
    [LibraryImport(Lib)] internal static partial IntPtr pt_linspace(double start, double end, long steps, int dtype, int devType, int devIndex);
    [LibraryImport(Lib)] internal static partial IntPtr pt_eye(long n, long m, int dtype, int devType, int devIndex);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_from_data(void* data, long bytes, long* shape, int ndim, int dtype);
    [LibraryImport(Lib)] internal static partial IntPtr pt_scalar_tensor(Scalar value, int dtype, int devType, int devIndex);
    [LibraryImport(Lib)] internal static partial IntPtr pt_zeros_like(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_ones_like(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_empty_like(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_full_like(TensorHandle a, Scalar value);
    [LibraryImport(Lib)] internal static partial IntPtr pt_rand_like(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_randn_like(TensorHandle a);

    [LibraryImport(Lib)] internal static partial int pt_dim(TensorHandle t);
    [LibraryImport(Lib)] internal static unsafe partial int pt_shape(TensorHandle t, long* output, int capacity);
    [LibraryImport(Lib)] internal static unsafe partial int pt_strides(TensorHandle t, long* output, int capacity);
    [LibraryImport(Lib)] internal static partial long pt_numel(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_dtype(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_device_type(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_device_index(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_is_contiguous(TensorHandle t);
    [LibraryImport(Lib)] internal static partial long pt_element_size(TensorHandle t);
    [LibraryImport(Lib)] internal static unsafe partial int pt_copy_to(TensorHandle t, void* destination, long bytes);
    [LibraryImport(Lib)] internal static partial int pt_item_double(TensorHandle t, out double value);
    [LibraryImport(Lib)] internal static partial int pt_item_long(TensorHandle t, out long value);
    [LibraryImport(Lib)] internal static unsafe partial int pt_to_string(TensorHandle t, byte* buffer, int capacity);

    [LibraryImport(Lib)] internal static partial IntPtr pt_to(TensorHandle t, int dtype, int devType, int devIndex, int nonBlocking, int copy);
    [LibraryImport(Lib)] internal static partial IntPtr pt_clone(TensorHandle t);
    [LibraryImport(Lib)] internal static partial IntPtr pt_alias(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_copy_(TensorHandle destination, TensorHandle source);

    [LibraryImport(Lib)] internal static partial int pt_requires_grad(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_set_requires_grad(TensorHandle t, int on);
    [LibraryImport(Lib)] internal static partial int pt_is_leaf(TensorHandle t);
    [LibraryImport(Lib)] internal static partial IntPtr pt_grad(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_set_grad(TensorHandle t, IntPtr grad);
    [LibraryImport(Lib)] internal static partial int pt_zero_grad(TensorHandle t, int setToNone);
    [LibraryImport(Lib)] internal static partial int pt_backward(TensorHandle t, IntPtr grad, int retainGraph, int createGraph);
    [LibraryImport(Lib)] internal static partial IntPtr pt_detach(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_detach_(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_retain_grad(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int pt_is_grad_enabled();
    [LibraryImport(Lib)] internal static partial void pt_set_grad_enabled(int on);
}
