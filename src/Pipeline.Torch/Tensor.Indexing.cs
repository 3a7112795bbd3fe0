using Pipeline.Torch.Native;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

// Indexing, slicing, gathering/scattering, masks, and splitting.
public partial class Tensor
{
    /// <summary>PyTorch's <c>x[...]</c>: <c>x[0, ^1]</c>, <c>x[.., 1..3]</c>, <c>x[mask]</c>; assignment writes in place.</summary>
    public Tensor this[params TensorIndex[] indices]
    {
        get => index(indices);
        set => index_put_(value, indices);
    }

    public unsafe Tensor index(params TensorIndex[] indices)
    {
        using var pinned = new IndexList(indices);
        fixed (NativeIndex* p = pinned.Items) return new(pt_index(Handle, p, pinned.Items.Length));
    }

    public unsafe Tensor index_put_(Tensor value, params TensorIndex[] indices)
    {
        using var pinned = new IndexList(indices);
        fixed (NativeIndex* p = pinned.Items) Check(pt_index_put_(Handle, p, pinned.Items.Length, H(value)));
        return this;
    }

    public unsafe Tensor index_put_(Scalar value, params TensorIndex[] indices)
    {
        using var pinned = new IndexList(indices);
        fixed (NativeIndex* p = pinned.Items) Check(pt_index_put_scalar_(Handle, p, pinned.Items.Length, value));
        return this;
    }

    public Tensor select(long dim, long index) => new(pt_select(Handle, dim, index));
    public Tensor narrow(long dim, long start, long length) => new(pt_narrow(Handle, dim, start, length));
    /// <summary>Python's <c>x[..., start:end:step]</c> along <paramref name="dim"/>; null bounds are open.</summary>
    public Tensor slice(long dim, long? start = null, long? end = null, long step = 1) =>
        new(pt_slice(Handle, dim, start ?? 0, start.HasValue ? 1 : 0, end ?? 0, end.HasValue ? 1 : 0, step));

    public Tensor index_select(long dim, Tensor index) => new(pt_index_select(Handle, dim, H(index)));
    public Tensor gather(long dim, Tensor index) => new(pt_gather(Handle, dim, H(index)));
    public Tensor scatter(long dim, Tensor index, Tensor src) => new(pt_scatter(Handle, dim, H(index), H(src)));
    public Tensor scatter(long dim, Tensor index, Scalar value) => new(pt_scatter_value(Handle, dim, H(index), value));
    public Tensor scatter_(long dim, Tensor index, Tensor src) { Check(pt_scatter_(Handle, dim, H(index), H(src))); return this; }
    public Tensor scatter_add(long dim, Tensor index, Tensor src) => new(pt_scatter_add(Handle, dim, H(index), H(src)));
    public Tensor scatter_add_(long dim, Tensor index, Tensor src) { Check(pt_scatter_add_(Handle, dim, H(index), H(src))); return this; }

    public Tensor masked_fill(Tensor mask, Scalar value) => new(pt_masked_fill(Handle, H(mask), value));
    public Tensor masked_fill_(Tensor mask, Scalar value) { Check(pt_masked_fill_(Handle, H(mask), value)); return this; }
    public Tensor masked_select(Tensor mask) => new(pt_masked_select(Handle, H(mask)));
    /// <summary>PyTorch's <c>x.where(condition, y)</c>: x where the condition holds, else y.</summary>
    public Tensor where(Tensor condition, Tensor other) => new(pt_where(H(condition), Handle, H(other)));
    public Tensor where(Tensor condition, Scalar other) => new(pt_where_scalar(H(condition), Handle, other));
    /// <summary>The indices of the non-zero elements, one row per element ([n, dim], int64).</summary>
    public Tensor nonzero() => new(pt_nonzero(Handle));

    public unsafe Tensor expand(params long[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        fixed (long* p = sizes) return new(pt_expand(Handle, p, sizes.Length));
    }
    public Tensor expand_as(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return expand(other.shape);
    }

    public unsafe Tensor repeat(params long[] repeats)
    {
        ArgumentNullException.ThrowIfNull(repeats);
        fixed (long* p = repeats) return new(pt_repeat(Handle, p, repeats.Length));
    }

    public unsafe Tensor flip(params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        fixed (long* p = dims) return new(pt_flip(Handle, p, dims.Length));
    }

    /// <summary>Rolls along <paramref name="dims"/>; with no dims, rolls the flattened tensor.</summary>
    public unsafe Tensor roll(long[] shifts, long[]? dims = null)
    {
        ArgumentNullException.ThrowIfNull(shifts);
        dims ??= [];
        fixed (long* s = shifts)
        fixed (long* d = dims)
            return new(pt_roll(Handle, s, shifts.Length, d, dims.Length));
    }
    public Tensor roll(long shift, long dim) => roll([shift], [dim]);
    public Tensor roll(long shift) => roll([shift]);

    public Tensor tril(long diagonal = 0) => new(pt_tril(Handle, diagonal));
    public Tensor triu(long diagonal = 0) => new(pt_triu(Handle, diagonal));

    // ---- splitting ----

    /// <summary>Pieces of <paramref name="split_size"/> along <paramref name="dim"/> (the last may be smaller); views.</summary>
    public Tensor[] split(long split_size, long dim = 0) => TakeList(pt_split(Handle, split_size, dim, out var n), n);

    public unsafe Tensor[] split(long[] split_sizes, long dim = 0)
    {
        ArgumentNullException.ThrowIfNull(split_sizes);
        int n;
        IntPtr list;
        fixed (long* p = split_sizes) list = pt_split_with_sizes(Handle, p, split_sizes.Length, dim, out n);
        return TakeList(list, n);
    }

    public Tensor[] chunk(long chunks, long dim = 0) => TakeList(pt_chunk(Handle, chunks, dim, out var n), n);
    public Tensor[] unbind(long dim = 0) => TakeList(pt_unbind(Handle, dim, out var n), n);

    /// <summary>Takes ownership of a native array of handles (each wrapped, the array freed).</summary>
    internal static unsafe Tensor[] TakeList(IntPtr list, int count)
    {
        Check(list);
        var handles = (IntPtr*)list;
        var result = new Tensor[count];
        try
        {
            for (var k = 0; k < count; k++) result[k] = new Tensor(handles[k]);
        }
        finally { pt_free_array(list); }
        return result;
    }

    /// <summary>Marshals index entries and keeps their tensors' handles alive for one native call.</summary>
    private readonly ref struct IndexList
    {
        private readonly TensorIndex[] entries;
        public NativeIndex[] Items { get; }

        public IndexList(TensorIndex[] indices)
        {
            ArgumentNullException.ThrowIfNull(indices);
            entries = indices;
            Items = new NativeIndex[indices.Length];
            for (var k = 0; k < indices.Length; k++)
            {
                var e = indices[k] ?? throw new ArgumentNullException(nameof(indices), $"index entry {k} is null");
                var item = new NativeIndex { Kind = (int)e.Kind, Step = e.Step };
                if (e.Kind == TensorIndex.IndexKind.Integer) item.Start = e.Start!.Value;
                if (e.Start is { } start && e.Kind == TensorIndex.IndexKind.Slice) { item.Start = start; item.Flags |= 1; }
                if (e.Stop is { } stop) { item.Stop = stop; item.Flags |= 2; }
                Items[k] = item;
            }
            // Reference tensors only after every entry validated, so that Dispose releases exactly these.
            try
            {
                for (var k = 0; k < indices.Length; k++)
                {
                    if (indices[k].Tensor is not { } t) continue;
                    var ok = false;
                    t.Handle.DangerousAddRef(ref ok);
                    Items[k].Tensor = t.Handle.DangerousGetHandle();
                }
            }
            catch
            {
                Dispose(); // a disposed index tensor: release the ones already referenced
                throw;
            }
        }

        public void Dispose()
        {
            for (var k = 0; k < entries.Length; k++)
                if (Items[k].Tensor != IntPtr.Zero) entries[k].Tensor!.Handle.DangerousRelease();
        }
    }
}
