using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

// Element-wise arithmetic, comparisons, reductions; operators broadcast as in PyTorch.
public partial class Tensor
{
#pragma warning disable CA2225 // PyTorch-style named methods (add, sub, ...) are the alternates
    public static Tensor operator +(Tensor a, Tensor b) => new(pt_add(H(a), H(b)));
    public static Tensor operator -(Tensor a, Tensor b) => new(pt_sub(H(a), H(b)));
    public static Tensor operator *(Tensor a, Tensor b) => new(pt_mul(H(a), H(b)));
    public static Tensor operator /(Tensor a, Tensor b) => new(pt_div(H(a), H(b)));
    public static Tensor operator +(Tensor a, Scalar b) => new(pt_add_scalar(H(a), b));
    public static Tensor operator +(Scalar a, Tensor b) => new(pt_add_scalar(H(b), a));
    public static Tensor operator -(Tensor a, Scalar b) => new(pt_sub_scalar(H(a), b));
    public static Tensor operator -(Scalar a, Tensor b) => new(pt_rsub_scalar(H(b), a));
    public static Tensor operator *(Tensor a, Scalar b) => new(pt_mul_scalar(H(a), b));
    public static Tensor operator *(Scalar a, Tensor b) => new(pt_mul_scalar(H(b), a));
    public static Tensor operator /(Tensor a, Scalar b) => new(pt_div_scalar(H(a), b));
    public static Tensor operator /(Scalar a, Tensor b) => new(pt_rdiv_scalar(H(b), a));
    public static Tensor operator -(Tensor a) => new(pt_neg(H(a)));
    public static Tensor operator <(Tensor a, Tensor b) => new(pt_lt(H(a), H(b)));
    public static Tensor operator <=(Tensor a, Tensor b) => new(pt_le(H(a), H(b)));
    public static Tensor operator >(Tensor a, Tensor b) => new(pt_gt(H(a), H(b)));
    public static Tensor operator >=(Tensor a, Tensor b) => new(pt_ge(H(a), H(b)));
    public static Tensor operator <(Tensor a, Scalar b) => new(pt_lt_scalar(H(a), b));
    public static Tensor operator <=(Tensor a, Scalar b) => new(pt_le_scalar(H(a), b));
    public static Tensor operator >(Tensor a, Scalar b) => new(pt_gt_scalar(H(a), b));
    public static Tensor operator >=(Tensor a, Scalar b) => new(pt_ge_scalar(H(a), b));
    public static Tensor operator &(Tensor a, Tensor b) => new(pt_logical_and(H(a), H(b)));
    public static Tensor operator |(Tensor a, Tensor b) => new(pt_logical_or(H(a), H(b)));
    public static Tensor operator !(Tensor a) => new(pt_logical_not(H(a)));
#pragma warning restore CA2225

    private static Native.TensorHandle H(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return t.Handle;
    }

    public Tensor add(Tensor other) => this + other;
    public Tensor add(Tensor other, Scalar alpha) => new(pt_add_alpha(Handle, H(other), alpha));
    public Tensor add(Scalar other) => this + other;
    public Tensor sub(Tensor other) => this - other;
    public Tensor sub(Scalar other) => this - other;
    public Tensor mul(Tensor other) => this * other;
    public Tensor mul(Scalar other) => this * other;
    public Tensor div(Tensor other) => this / other;
    public Tensor div(Scalar other) => this / other;
    public Tensor neg() => -this;
    public Tensor matmul(Tensor other) => new(pt_matmul(Handle, H(other)));
    public Tensor pow(Tensor exponent) => new(pt_pow(Handle, H(exponent)));
    public Tensor pow(Scalar exponent) => new(pt_pow_scalar(Handle, exponent));
    public Tensor maximum(Tensor other) => new(pt_maximum(Handle, H(other)));
    public Tensor minimum(Tensor other) => new(pt_minimum(Handle, H(other)));

    public Tensor eq(Tensor other) => new(pt_eq(Handle, H(other)));
    public Tensor eq(Scalar other) => new(pt_eq_scalar(Handle, other));
    public Tensor ne(Tensor other) => new(pt_ne(Handle, H(other)));
    public Tensor ne(Scalar other) => new(pt_ne_scalar(Handle, other));
    public Tensor lt(Tensor other) => this < other;
    public Tensor lt(Scalar other) => this < other;
    public Tensor le(Tensor other) => this <= other;
    public Tensor le(Scalar other) => this <= other;
    public Tensor gt(Tensor other) => this > other;
    public Tensor gt(Scalar other) => this > other;
    public Tensor ge(Tensor other) => this >= other;
    public Tensor ge(Scalar other) => this >= other;
    public Tensor logical_and(Tensor other) => this & other;
    public Tensor logical_or(Tensor other) => this | other;
    public Tensor logical_not() => !this;

    public Tensor add_(Tensor other) { Check(pt_add_(Handle, H(other))); return this; }
    public Tensor add_(Tensor other, Scalar alpha) { Check(pt_add_alpha_(Handle, H(other), alpha)); return this; }
    public Tensor add_(Scalar other) { Check(pt_add_scalar_(Handle, other)); return this; }
    public Tensor sub_(Tensor other) { Check(pt_sub_(Handle, H(other))); return this; }
    public Tensor sub_(Scalar other) { Check(pt_sub_scalar_(Handle, other)); return this; }
    public Tensor mul_(Tensor other) { Check(pt_mul_(Handle, H(other))); return this; }
    public Tensor mul_(Scalar other) { Check(pt_mul_scalar_(Handle, other)); return this; }
    public Tensor div_(Tensor other) { Check(pt_div_(Handle, H(other))); return this; }
    public Tensor div_(Scalar other) { Check(pt_div_scalar_(Handle, other)); return this; }
    public Tensor fill_(Scalar value) { Check(pt_fill_(Handle, value)); return this; }
    public Tensor zero_() { Check(pt_zero_(Handle)); return this; }
    public Tensor neg_() { Check(pt_neg_(Handle)); return this; }
    public Tensor exp_() { Check(pt_exp_(Handle)); return this; }
    public Tensor sqrt_() { Check(pt_sqrt_(Handle)); return this; }
    public Tensor relu_() { Check(pt_relu_(Handle)); return this; }

    public Tensor abs() => new(pt_abs(Handle));
    public Tensor exp() => new(pt_exp(Handle));
    public Tensor log() => new(pt_log(Handle));
    public Tensor sqrt() => new(pt_sqrt(Handle));
    public Tensor rsqrt() => new(pt_rsqrt(Handle));
    public Tensor sigmoid() => new(pt_sigmoid(Handle));
    public Tensor tanh() => new(pt_tanh(Handle));
    public Tensor relu() => new(pt_relu(Handle));

    public Tensor clamp(Scalar? min = null, Scalar? max = null) =>
        new(pt_clamp(Handle, min ?? default, min.HasValue ? 1 : 0, max ?? default, max.HasValue ? 1 : 0));
    public Tensor clamp_(Scalar? min = null, Scalar? max = null)
    {
        Check(pt_clamp_(Handle, min ?? default, min.HasValue ? 1 : 0, max ?? default, max.HasValue ? 1 : 0));
        return this;
    }

    /// <summary>Sum over every element, or over <paramref name="dims"/>.</summary>
    public unsafe Tensor sum(long[]? dims = null, bool keepdim = false, ScalarType? type = null)
    {
        fixed (long* p = dims) return new(pt_sum(Handle, p, dims?.Length ?? 0, keepdim ? 1 : 0, type.HasValue ? (int)type.Value : -1));
    }
    public Tensor sum(long dim, bool keepdim = false) => sum([dim], keepdim);

    public unsafe Tensor mean(long[]? dims = null, bool keepdim = false)
    {
        fixed (long* p = dims) return new(pt_mean(Handle, p, dims?.Length ?? 0, keepdim ? 1 : 0));
    }
    public Tensor mean(long dim, bool keepdim = false) => mean([dim], keepdim);
}
