using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

// More element-wise math, fused and in-place forms, and matrix products.
public partial class Tensor
{
#pragma warning disable CA2225 // remainder() is the named alternate
    /// <summary>Python's <c>%</c>: the remainder with the sign of the divisor (see <see cref="fmod(Tensor)"/>).</summary>
    public static Tensor operator %(Tensor a, Tensor b) => new(pt_remainder(H(a), H(b)));
    public static Tensor operator %(Tensor a, Scalar b) => new(pt_remainder_scalar(H(a), b));
#pragma warning restore CA2225

    public Tensor log1p() => new(pt_log1p(Handle));
    public Tensor expm1() => new(pt_expm1(Handle));
    public Tensor sin() => new(pt_sin(Handle));
    public Tensor cos() => new(pt_cos(Handle));
    public Tensor floor() => new(pt_floor(Handle));
    public Tensor ceil() => new(pt_ceil(Handle));
    /// <summary>Rounds half to even, as PyTorch does.</summary>
    public Tensor round() => new(pt_round(Handle));
    public Tensor trunc() => new(pt_trunc(Handle));
    public Tensor sign() => new(pt_sign(Handle));
    public Tensor reciprocal() => new(pt_reciprocal(Handle));
    public Tensor square() => new(pt_square(Handle));
    public Tensor erf() => new(pt_erf(Handle));
    public Tensor isnan() => new(pt_isnan(Handle));
    public Tensor isinf() => new(pt_isinf(Handle));
    public Tensor isfinite() => new(pt_isfinite(Handle));

    public Tensor remainder(Tensor other) => this % other;
    public Tensor remainder(Scalar other) => this % other;
    /// <summary>The C-style remainder: sign of the dividend.</summary>
    public Tensor fmod(Tensor other) => new(pt_fmod(Handle, H(other)));
    public Tensor fmod(Scalar other) => new(pt_fmod_scalar(Handle, other));
    public Tensor clamp_min(Scalar min) => new(pt_clamp_min(Handle, min));
    public Tensor clamp_max(Scalar max) => new(pt_clamp_max(Handle, max));

    /// <summary>this + weight * (end - this).</summary>
    public Tensor lerp(Tensor end, Scalar weight) => new(pt_lerp(Handle, H(end), weight));
    public Tensor lerp(Tensor end, Tensor weight) => new(pt_lerp_tensor(Handle, H(end), H(weight)));
    public Tensor lerp_(Tensor end, Scalar weight) { Check(pt_lerp_(Handle, H(end), weight)); return this; }

    /// <summary>this + value * tensor1 * tensor2.</summary>
    public Tensor addcmul(Tensor tensor1, Tensor tensor2, Scalar? value = null) => new(pt_addcmul(Handle, H(tensor1), H(tensor2), value ?? 1));
    /// <summary>this + value * tensor1 / tensor2.</summary>
    public Tensor addcdiv(Tensor tensor1, Tensor tensor2, Scalar? value = null) => new(pt_addcdiv(Handle, H(tensor1), H(tensor2), value ?? 1));
    public Tensor addcmul_(Tensor tensor1, Tensor tensor2, Scalar? value = null) { Check(pt_addcmul_(Handle, H(tensor1), H(tensor2), value ?? 1)); return this; }
    public Tensor addcdiv_(Tensor tensor1, Tensor tensor2, Scalar? value = null) { Check(pt_addcdiv_(Handle, H(tensor1), H(tensor2), value ?? 1)); return this; }

    public Tensor sigmoid_() { Check(pt_sigmoid_(Handle)); return this; }
    public Tensor log_() { Check(pt_log_(Handle)); return this; }
    public Tensor abs_() { Check(pt_abs_(Handle)); return this; }
    public Tensor tanh_() { Check(pt_tanh_(Handle)); return this; }
    public Tensor pow_(Scalar exponent) { Check(pt_pow_scalar_(Handle, exponent)); return this; }
    public Tensor clamp_min_(Scalar min) { Check(pt_clamp_min_(Handle, min)); return this; }
    public Tensor clamp_max_(Scalar max) { Check(pt_clamp_max_(Handle, max)); return this; }

    /// <summary>The matrix product of two 2-D tensors (no broadcasting; see <see cref="matmul"/>).</summary>
    public Tensor mm(Tensor other) => new(pt_mm(Handle, H(other)));
    /// <summary>Batched matrix product of [b, n, m] and [b, m, p].</summary>
    public Tensor bmm(Tensor other) => new(pt_bmm(Handle, H(other)));
    public Tensor outer(Tensor other) => new(pt_outer(Handle, H(other)));
}
