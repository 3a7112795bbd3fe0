using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

// Reductions, scans, softmax and sorting. Ops that PyTorch gives as (values, indices) return a tuple.
public partial class Tensor
{
    public Tensor max() => new(pt_max_all(Handle));
    public Tensor min() => new(pt_min_all(Handle));
    /// <summary>PyTorch's <c>x.max(other)</c>: the element-wise maximum.</summary>
    public Tensor max(Tensor other) => maximum(other);
    public Tensor min(Tensor other) => minimum(other);
    public (Tensor values, Tensor indices) max(long dim, bool keepdim = false) =>
        Pair(pt_max_dim(Handle, dim, keepdim ? 1 : 0, out var v, out var i), v, i);
    public (Tensor values, Tensor indices) min(long dim, bool keepdim = false) =>
        Pair(pt_min_dim(Handle, dim, keepdim ? 1 : 0, out var v, out var i), v, i);

    /// <summary>The index of the largest element of the flattened tensor.</summary>
    public Tensor argmax() => new(pt_argmax(Handle, 0, 0, 0));
    public Tensor argmax(long dim, bool keepdim = false) => new(pt_argmax(Handle, dim, 1, keepdim ? 1 : 0));
    public Tensor argmin() => new(pt_argmin(Handle, 0, 0, 0));
    public Tensor argmin(long dim, bool keepdim = false) => new(pt_argmin(Handle, dim, 1, keepdim ? 1 : 0));

    /// <summary>The maximum over <paramref name="dims"/> (every dimension when null); gradient split among ties.</summary>
    public unsafe Tensor amax(long[]? dims = null, bool keepdim = false)
    {
        fixed (long* p = dims) return new(pt_amax(Handle, p, dims?.Length ?? 0, keepdim ? 1 : 0));
    }
    public Tensor amax(long dim, bool keepdim = false) => amax([dim], keepdim);
    public unsafe Tensor amin(long[]? dims = null, bool keepdim = false)
    {
        fixed (long* p = dims) return new(pt_amin(Handle, p, dims?.Length ?? 0, keepdim ? 1 : 0));
    }
    public Tensor amin(long dim, bool keepdim = false) => amin([dim], keepdim);

    public Tensor prod(ScalarType? dtype = null) => new(pt_prod(Handle, 0, 0, 0, dtype.HasValue ? (int)dtype.Value : -1));
    public Tensor prod(long dim, bool keepdim = false, ScalarType? dtype = null) =>
        new(pt_prod(Handle, dim, 1, keepdim ? 1 : 0, dtype.HasValue ? (int)dtype.Value : -1));

    /// <summary>Standard deviation over every element; <paramref name="unbiased"/> divides by n - 1.</summary>
    public Tensor std(bool unbiased = true) => std([], unbiased);
    public unsafe Tensor std(long[] dims, bool unbiased = true, bool keepdim = false)
    {
        ArgumentNullException.ThrowIfNull(dims);
        fixed (long* p = dims) return new(pt_std(Handle, p, dims.Length, unbiased ? 1 : 0, keepdim ? 1 : 0));
    }
    public Tensor std(long dim, bool unbiased = true, bool keepdim = false) => std([dim], unbiased, keepdim);

    public Tensor var(bool unbiased = true) => var([], unbiased);
    public unsafe Tensor var(long[] dims, bool unbiased = true, bool keepdim = false)
    {
        ArgumentNullException.ThrowIfNull(dims);
        fixed (long* p = dims) return new(pt_var(Handle, p, dims.Length, unbiased ? 1 : 0, keepdim ? 1 : 0));
    }
    public Tensor var(long dim, bool unbiased = true, bool keepdim = false) => var([dim], unbiased, keepdim);

    /// <summary>The p-norm over <paramref name="dims"/> (every element when null); p may be infinity.</summary>
    public unsafe Tensor norm(double p = 2, long[]? dims = null, bool keepdim = false)
    {
        fixed (long* d = dims) return new(pt_norm(Handle, p, d, dims?.Length ?? 0, keepdim ? 1 : 0));
    }
    public Tensor norm(double p, long dim, bool keepdim = false) => norm(p, [dim], keepdim);

    public unsafe Tensor logsumexp(long[] dims, bool keepdim = false)
    {
        ArgumentNullException.ThrowIfNull(dims);
        fixed (long* p = dims) return new(pt_logsumexp(Handle, p, dims.Length, keepdim ? 1 : 0));
    }
    public Tensor logsumexp(long dim, bool keepdim = false) => logsumexp([dim], keepdim);

    public Tensor cumsum(long dim, ScalarType? dtype = null) => new(pt_cumsum(Handle, dim, dtype.HasValue ? (int)dtype.Value : -1));
    public Tensor cumprod(long dim, ScalarType? dtype = null) => new(pt_cumprod(Handle, dim, dtype.HasValue ? (int)dtype.Value : -1));

    public Tensor any() => new(pt_any(Handle, 0, 0, 0));
    public Tensor any(long dim, bool keepdim = false) => new(pt_any(Handle, dim, 1, keepdim ? 1 : 0));
    public Tensor all() => new(pt_all(Handle, 0, 0, 0));
    public Tensor all(long dim, bool keepdim = false) => new(pt_all(Handle, dim, 1, keepdim ? 1 : 0));

    public Tensor softmax(long dim, ScalarType? dtype = null) => new(pt_softmax(Handle, dim, dtype.HasValue ? (int)dtype.Value : -1));
    public Tensor log_softmax(long dim, ScalarType? dtype = null) => new(pt_log_softmax(Handle, dim, dtype.HasValue ? (int)dtype.Value : -1));

    /// <summary>The <paramref name="k"/> largest (or smallest) elements along <paramref name="dim"/> and their indices.</summary>
    public (Tensor values, Tensor indices) topk(long k, long dim = -1, bool largest = true, bool sorted = true) =>
        Pair(pt_topk(Handle, k, dim, largest ? 1 : 0, sorted ? 1 : 0, out var v, out var i), v, i);

    public (Tensor values, Tensor indices) sort(long dim = -1, bool descending = false, bool stable = false) =>
        Pair(pt_sort(Handle, dim, descending ? 1 : 0, stable ? 1 : 0, out var v, out var i), v, i);

    public Tensor argsort(long dim = -1, bool descending = false) => new(pt_argsort(Handle, dim, descending ? 1 : 0));

    private static (Tensor values, Tensor indices) Pair(int status, IntPtr values, IntPtr indices)
    {
        Check(status);
        var v = new Tensor(values);
        return (v, new Tensor(indices));
    }
}
