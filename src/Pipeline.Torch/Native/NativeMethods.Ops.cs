using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

// native/math.cpp and native/shape.cpp
internal static partial class NativeMethods
{
    [LibraryImport(Lib)] internal static partial IntPtr pt_add(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_sub(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_mul(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_div(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_matmul(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_pow(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_maximum(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_minimum(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_eq(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_ne(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_lt(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_le(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_gt(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_ge(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_logical_and(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_logical_or(TensorHandle a, TensorHandle b);

    [LibraryImport(Lib)] internal static partial IntPtr pt_add_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_sub_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_rsub_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_mul_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_div_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_rdiv_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_pow_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_eq_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_ne_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_lt_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_le_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_gt_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_ge_scalar(TensorHandle a, Scalar s);

    [LibraryImport(Lib)] internal static partial int pt_add_(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial int pt_sub_(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial int pt_mul_(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial int pt_div_(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial int pt_add_scalar_(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial int pt_sub_scalar_(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial int pt_mul_scalar_(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial int pt_div_scalar_(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial int pt_fill_(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial int pt_zero_(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_add_alpha(TensorHandle a, TensorHandle b, Scalar alpha);
    [LibraryImport(Lib)] internal static partial int pt_add_alpha_(TensorHandle a, TensorHandle b, Scalar alpha);

    [LibraryImport(Lib)] internal static partial IntPtr pt_neg(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_abs(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_exp(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_log(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_sqrt(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_rsqrt(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_sigmoid(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_tanh(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_relu(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_logical_not(TensorHandle a);
    [LibraryImport(Lib)] internal static partial int pt_relu_(TensorHandle a);
    [LibraryImport(Lib)] internal static partial int pt_neg_(TensorHandle a);
    [LibraryImport(Lib)] internal static partial int pt_exp_(TensorHandle a);
    [LibraryImport(Lib)] internal static partial int pt_sqrt_(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_clamp(TensorHandle a, Scalar lo, int hasLo, Scalar hi, int hasHi);
    [LibraryImport(Lib)] internal static partial int pt_clamp_(TensorHandle a, Scalar lo, int hasLo, Scalar hi, int hasHi);

    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_sum(TensorHandle a, long* dims, int ndims, int keepdim, int dtype);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_mean(TensorHandle a, long* dims, int ndims, int keepdim);

    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_reshape(TensorHandle a, long* shape, int n);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_view(TensorHandle a, long* shape, int n);
    [LibraryImport(Lib)] internal static partial IntPtr pt_flatten(TensorHandle a, long start, long end);
    [LibraryImport(Lib)] internal static partial IntPtr pt_transpose(TensorHandle a, long d0, long d1);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_permute(TensorHandle a, long* dims, int n);
    [LibraryImport(Lib)] internal static partial IntPtr pt_contiguous(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_squeeze(TensorHandle a, long dim, int all);
    [LibraryImport(Lib)] internal static partial IntPtr pt_unsqueeze(TensorHandle a, long dim);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_cat(IntPtr* list, int n, long dim);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_stack(IntPtr* list, int n, long dim);
}
