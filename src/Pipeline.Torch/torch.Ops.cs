using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

// torch.* forms of the tensor methods, as PyTorch spells them: torch.exp(x), torch.topk(x, 3), ...
#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    private static Tensor A(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return t;
    }

    // ---- element-wise ----
    public static Tensor abs(Tensor input) => A(input).abs();
    public static Tensor exp(Tensor input) => A(input).exp();
    public static Tensor log(Tensor input) => A(input).log();
    public static Tensor log1p(Tensor input) => A(input).log1p();
    public static Tensor expm1(Tensor input) => A(input).expm1();
    public static Tensor sqrt(Tensor input) => A(input).sqrt();
    public static Tensor rsqrt(Tensor input) => A(input).rsqrt();
    public static Tensor sin(Tensor input) => A(input).sin();
    public static Tensor cos(Tensor input) => A(input).cos();
    public static Tensor tanh(Tensor input) => A(input).tanh();
    public static Tensor sigmoid(Tensor input) => A(input).sigmoid();
    public static Tensor floor(Tensor input) => A(input).floor();
    public static Tensor ceil(Tensor input) => A(input).ceil();
    public static Tensor round(Tensor input) => A(input).round();
    public static Tensor trunc(Tensor input) => A(input).trunc();
    public static Tensor sign(Tensor input) => A(input).sign();
    public static Tensor reciprocal(Tensor input) => A(input).reciprocal();
    public static Tensor square(Tensor input) => A(input).square();
    public static Tensor erf(Tensor input) => A(input).erf();
    public static Tensor isnan(Tensor input) => A(input).isnan();
    public static Tensor isinf(Tensor input) => A(input).isinf();
    public static Tensor isfinite(Tensor input) => A(input).isfinite();
    public static Tensor pow(Tensor input, Tensor exponent) => A(input).pow(exponent);
    public static Tensor pow(Tensor input, Scalar exponent) => A(input).pow(exponent);
    public static Tensor remainder(Tensor input, Tensor other) => A(input).remainder(other);
    public static Tensor remainder(Tensor input, Scalar other) => A(input).remainder(other);
    public static Tensor fmod(Tensor input, Tensor other) => A(input).fmod(other);
    public static Tensor fmod(Tensor input, Scalar other) => A(input).fmod(other);
    public static Tensor clamp(Tensor input, Scalar? min = null, Scalar? max = null) => A(input).clamp(min, max);
    public static Tensor lerp(Tensor input, Tensor end, Scalar weight) => A(input).lerp(end, weight);
    public static Tensor lerp(Tensor input, Tensor end, Tensor weight) => A(input).lerp(end, weight);
    public static Tensor addcmul(Tensor input, Tensor tensor1, Tensor tensor2, Scalar? value = null) => A(input).addcmul(tensor1, tensor2, value);
    public static Tensor addcdiv(Tensor input, Tensor tensor1, Tensor tensor2, Scalar? value = null) => A(input).addcdiv(tensor1, tensor2, value);
    public static Tensor maximum(Tensor input, Tensor other) => A(input).maximum(other);
    public static Tensor minimum(Tensor input, Tensor other) => A(input).minimum(other);

    // ---- products ----
    public static Tensor matmul(Tensor input, Tensor other) => A(input).matmul(other);
    public static Tensor mm(Tensor input, Tensor mat2) => A(input).mm(mat2);
    public static Tensor bmm(Tensor input, Tensor mat2) => A(input).bmm(mat2);
    public static Tensor outer(Tensor input, Tensor vec2) => A(input).outer(vec2);

    // ---- reductions ----
    public static Tensor sum(Tensor input, long[]? dims = null, bool keepdim = false, ScalarType? dtype = null) => A(input).sum(dims, keepdim, dtype);
    public static Tensor sum(Tensor input, long dim, bool keepdim = false) => A(input).sum(dim, keepdim);
    public static Tensor mean(Tensor input, long[]? dims = null, bool keepdim = false) => A(input).mean(dims, keepdim);
    public static Tensor mean(Tensor input, long dim, bool keepdim = false) => A(input).mean(dim, keepdim);
    public static Tensor prod(Tensor input, ScalarType? dtype = null) => A(input).prod(dtype);
    public static Tensor prod(Tensor input, long dim, bool keepdim = false, ScalarType? dtype = null) => A(input).prod(dim, keepdim, dtype);
    public static Tensor max(Tensor input) => A(input).max();
    /// <summary>torch.max(a, b): the element-wise maximum.</summary>
    public static Tensor max(Tensor input, Tensor other) => A(input).maximum(other);
    public static (Tensor values, Tensor indices) max(Tensor input, long dim, bool keepdim = false) => A(input).max(dim, keepdim);
    public static Tensor min(Tensor input) => A(input).min();
    public static Tensor min(Tensor input, Tensor other) => A(input).minimum(other);
    public static (Tensor values, Tensor indices) min(Tensor input, long dim, bool keepdim = false) => A(input).min(dim, keepdim);
    public static Tensor argmax(Tensor input) => A(input).argmax();
    public static Tensor argmax(Tensor input, long dim, bool keepdim = false) => A(input).argmax(dim, keepdim);
    public static Tensor argmin(Tensor input) => A(input).argmin();
    public static Tensor argmin(Tensor input, long dim, bool keepdim = false) => A(input).argmin(dim, keepdim);
    public static Tensor amax(Tensor input, long[]? dims = null, bool keepdim = false) => A(input).amax(dims, keepdim);
    public static Tensor amax(Tensor input, long dim, bool keepdim = false) => A(input).amax(dim, keepdim);
    public static Tensor amin(Tensor input, long[]? dims = null, bool keepdim = false) => A(input).amin(dims, keepdim);
    public static Tensor amin(Tensor input, long dim, bool keepdim = false) => A(input).amin(dim, keepdim);
    public static Tensor std(Tensor input, bool unbiased = true) => A(input).std(unbiased);
    public static Tensor std(Tensor input, long[] dims, bool unbiased = true, bool keepdim = false) => A(input).std(dims, unbiased, keepdim);
    public static Tensor std(Tensor input, long dim, bool unbiased = true, bool keepdim = false) => A(input).std(dim, unbiased, keepdim);
    public static Tensor var(Tensor input, bool unbiased = true) => A(input).var(unbiased);
    public static Tensor var(Tensor input, long[] dims, bool unbiased = true, bool keepdim = false) => A(input).var(dims, unbiased, keepdim);
    public static Tensor var(Tensor input, long dim, bool unbiased = true, bool keepdim = false) => A(input).var(dim, unbiased, keepdim);
    public static Tensor norm(Tensor input, double p = 2, long[]? dims = null, bool keepdim = false) => A(input).norm(p, dims, keepdim);
    public static Tensor logsumexp(Tensor input, long dim, bool keepdim = false) => A(input).logsumexp(dim, keepdim);
    public static Tensor logsumexp(Tensor input, long[] dims, bool keepdim = false) => A(input).logsumexp(dims, keepdim);
    public static Tensor cumsum(Tensor input, long dim, ScalarType? dtype = null) => A(input).cumsum(dim, dtype);
    public static Tensor cumprod(Tensor input, long dim, ScalarType? dtype = null) => A(input).cumprod(dim, dtype);
    public static Tensor any(Tensor input) => A(input).any();
    public static Tensor any(Tensor input, long dim, bool keepdim = false) => A(input).any(dim, keepdim);
    public static Tensor all(Tensor input) => A(input).all();
    public static Tensor all(Tensor input, long dim, bool keepdim = false) => A(input).all(dim, keepdim);
    public static Tensor softmax(Tensor input, long dim, ScalarType? dtype = null) => A(input).softmax(dim, dtype);
    public static Tensor log_softmax(Tensor input, long dim, ScalarType? dtype = null) => A(input).log_softmax(dim, dtype);

    // ---- sorting ----
    public static (Tensor values, Tensor indices) topk(Tensor input, long k, long dim = -1, bool largest = true, bool sorted = true) =>
        A(input).topk(k, dim, largest, sorted);
    public static (Tensor values, Tensor indices) sort(Tensor input, long dim = -1, bool descending = false, bool stable = false) =>
        A(input).sort(dim, descending, stable);
    public static Tensor argsort(Tensor input, long dim = -1, bool descending = false) => A(input).argsort(dim, descending);

    // ---- indexing ----
    /// <summary>Elements of <paramref name="input"/> where <paramref name="condition"/> holds, else of <paramref name="other"/>.</summary>
    public static Tensor where(Tensor condition, Tensor input, Tensor other) => new(pt_where(Arg(condition), Arg(input), Arg(other)));
    public static Tensor where(Tensor condition, Tensor input, Scalar other) => new(pt_where_scalar(Arg(condition), Arg(input), other));
    public static Tensor where(Tensor condition, Scalar input, Tensor other) => new(pt_where_scalar_first(Arg(condition), input, Arg(other)));
    public static Tensor nonzero(Tensor input) => A(input).nonzero();
    public static Tensor select(Tensor input, long dim, long index) => A(input).select(dim, index);
    public static Tensor narrow(Tensor input, long dim, long start, long length) => A(input).narrow(dim, start, length);
    public static Tensor index_select(Tensor input, long dim, Tensor index) => A(input).index_select(dim, index);
    public static Tensor gather(Tensor input, long dim, Tensor index) => A(input).gather(dim, index);
    public static Tensor scatter(Tensor input, long dim, Tensor index, Tensor src) => A(input).scatter(dim, index, src);
    public static Tensor scatter(Tensor input, long dim, Tensor index, Scalar value) => A(input).scatter(dim, index, value);
    public static Tensor scatter_add(Tensor input, long dim, Tensor index, Tensor src) => A(input).scatter_add(dim, index, src);
    public static Tensor masked_fill(Tensor input, Tensor mask, Scalar value) => A(input).masked_fill(mask, value);
    public static Tensor masked_select(Tensor input, Tensor mask) => A(input).masked_select(mask);
    public static Tensor flip(Tensor input, params long[] dims) => A(input).flip(dims);
    public static Tensor roll(Tensor input, long[] shifts, long[]? dims = null) => A(input).roll(shifts, dims);
    public static Tensor roll(Tensor input, long shift, long dim) => A(input).roll(shift, dim);
    public static Tensor tril(Tensor input, long diagonal = 0) => A(input).tril(diagonal);
    public static Tensor triu(Tensor input, long diagonal = 0) => A(input).triu(diagonal);

    /// <summary>int64 class indices to an int64 one-hot encoding with a new last dimension (num_classes -1: max + 1).</summary>
    public static Tensor one_hot(Tensor input, long num_classes = -1) => new(pt_one_hot(Arg(input), num_classes));

    // ---- splitting and shapes ----
    public static Tensor[] split(Tensor input, long split_size, long dim = 0) => A(input).split(split_size, dim);
    public static Tensor[] split(Tensor input, long[] split_sizes, long dim = 0) => A(input).split(split_sizes, dim);
    public static Tensor[] chunk(Tensor input, long chunks, long dim = 0) => A(input).chunk(chunks, dim);
    public static Tensor[] unbind(Tensor input, long dim = 0) => A(input).unbind(dim);
    public static Tensor reshape(Tensor input, params long[] shape) => A(input).reshape(shape);
    public static Tensor flatten(Tensor input, long start_dim = 0, long end_dim = -1) => A(input).flatten(start_dim, end_dim);
    public static Tensor transpose(Tensor input, long dim0, long dim1) => A(input).transpose(dim0, dim1);
    public static Tensor permute(Tensor input, params long[] dims) => A(input).permute(dims);
    public static Tensor squeeze(Tensor input) => A(input).squeeze();
    public static Tensor squeeze(Tensor input, long dim) => A(input).squeeze(dim);
    public static Tensor unsqueeze(Tensor input, long dim) => A(input).unsqueeze(dim);
}
#pragma warning restore CA1707, IDE1006
