namespace Pipeline.Torch;

/// <summary>
/// One entry of a PyTorch-style index expression: <c>x[0, ^1]</c>, <c>x[.., 1..3]</c>,
/// <c>x[TensorIndex.Ellipsis, TensorIndex.None]</c>, <c>x[mask]</c>. Integers select (dropping the
/// dimension), ranges slice (<c>^n</c> counts from the end), tensors index (bool masks or int64 indices).
/// </summary>
public sealed class TensorIndex
{
    internal enum IndexKind
    {
        Integer = 0,
        Slice = 1,
        Ellipsis = 2,
        None = 3,
        Tensor = 4,
    }

    internal IndexKind Kind { get; }
    internal long? Start { get; }
    internal long? Stop { get; }
    internal long Step { get; } = 1;
    internal Tensor? Tensor { get; }

    private TensorIndex(IndexKind kind, long? start = null, long? stop = null, long step = 1, Tensor? tensor = null)
    {
        Kind = kind;
        Start = start;
        Stop = stop;
        Step = step;
        Tensor = tensor;
    }

    /// <summary>Python's <c>...</c>: as many full slices as the other entries leave.</summary>
    public static TensorIndex Ellipsis { get; } = new(IndexKind.Ellipsis);

    /// <summary>Python's <c>None</c>: inserts a new axis of size 1.</summary>
    public static TensorIndex None { get; } = new(IndexKind.None);

    /// <summary>Selects one position (negative counts from the end).</summary>
    public static TensorIndex Single(long index) => new(IndexKind.Integer, start: index);

    /// <summary>Python's <c>start:stop:step</c>; null bounds are open.</summary>
    public static TensorIndex Slice(long? start = null, long? stop = null, long step = 1)
    {
        if (step <= 0) throw new ArgumentOutOfRangeException(nameof(step), step, "slice step must be positive");
        return new(IndexKind.Slice, start, stop, step);
    }

    public static TensorIndex FromTensor(Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        return new(IndexKind.Tensor, tensor: index);
    }

    public static TensorIndex FromInt64(long index) => Single(index);

    public static TensorIndex FromIndex(Index index)
    {
        if (!index.IsFromEnd) return Single(index.Value);
        // ^0 is one past the last element: nothing to select.
        if (index.Value == 0) throw new ArgumentOutOfRangeException(nameof(index), "^0 selects past the end of the dimension");
        return Single(-(long)index.Value);
    }

    public static TensorIndex FromRange(Range range)
    {
        long? start = range.Start.IsFromEnd
            ? range.Start.Value == 0 ? long.MaxValue : -(long)range.Start.Value // ^0.. is empty; libtorch clamps
            : range.Start.Value;
        long? stop = range.End.IsFromEnd
            ? range.End.Value == 0 ? null : -(long)range.End.Value
            : range.End.Value;
        return new(IndexKind.Slice, start, stop);
    }

    public static implicit operator TensorIndex(long index) => FromInt64(index);
    public static implicit operator TensorIndex(Index index) => FromIndex(index);
    public static implicit operator TensorIndex(Range range) => FromRange(range);
    public static implicit operator TensorIndex(Tensor index) => FromTensor(index);

    public override string ToString() => Kind switch
    {
        IndexKind.Integer => $"{Start}",
        IndexKind.Slice => $"{Start}:{Stop}:{Step}",
        IndexKind.Ellipsis => "...",
        IndexKind.None => "None",
        _ => "tensor",
    };
}
