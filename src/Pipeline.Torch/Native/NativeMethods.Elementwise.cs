using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

// native/elementwise.cpp
internal static partial class NativeMethods
{
    [LibraryImport(Lib)] internal static partial IntPtr pt_log1p(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_expm1(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_sin(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_cos(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_floor(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_ceil(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_round(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_trunc(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_sign(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_reciprocal(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_square(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_erf(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_isnan(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_isinf(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_isfinite(TensorHandle a);

    [LibraryImport(Lib)] internal static partial IntPtr pt_remainder(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_fmod(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_remainder_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_fmod_scalar(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_clamp_min(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_clamp_max(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial IntPtr pt_mm(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_bmm(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static partial IntPtr pt_outer(TensorHandle a, TensorHandle b);

    [LibraryImport(Lib)] internal static partial IntPtr pt_lerp(TensorHandle a, TensorHandle end, Scalar weight);
    [LibraryImport(Lib)] internal static partial IntPtr pt_lerp_tensor(TensorHandle a, TensorHandle end, TensorHandle weight);
    [LibraryImport(Lib)] internal static partial int pt_lerp_(TensorHandle a, TensorHandle end, Scalar weight);
    [LibraryImport(Lib)] internal static partial IntPtr pt_addcmul(TensorHandle a, TensorHandle t1, TensorHandle t2, Scalar value);
    [LibraryImport(Lib)] internal static partial IntPtr pt_addcdiv(TensorHandle a, TensorHandle t1, TensorHandle t2, Scalar value);
    [LibraryImport(Lib)] internal static partial int pt_addcmul_(TensorHandle a, TensorHandle t1, TensorHandle t2, Scalar value);
    [LibraryImport(Lib)] internal static partial int pt_addcdiv_(TensorHandle a, TensorHandle t1, TensorHandle t2, Scalar value);

    [LibraryImport(Lib)] internal static partial int pt_sigmoid_(TensorHandle a);
    [LibraryImport(Lib)] internal static partial int pt_log_(TensorHandle a);
    [LibraryImport(Lib)] internal static partial int pt_abs_(TensorHandle a);
    [LibraryImport(Lib)] internal static partial int pt_tanh_(TensorHandle a);
    [LibraryImport(Lib)] internal static partial int pt_pow_scalar_(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial int pt_clamp_min_(TensorHandle a, Scalar s);
    [LibraryImport(Lib)] internal static partial int pt_clamp_max_(TensorHandle a, Scalar s);
}
