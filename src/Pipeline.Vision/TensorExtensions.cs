using static TorchSharp.torch;

namespace Pipeline.Vision;

/// <summary>Element access by copy, for tensors of any device and layout (TorchSharp's <c>data&lt;T&gt;()</c> reads a
/// CPU tensor in place).</summary>
public static class TensorExtensions
{
    /// <summary>The elements in row-major order; <typeparamref name="T"/> must be the tensor's element type.</summary>
    public static T[] ToArray<T>(this Tensor tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var dense = tensor.detach().cpu().contiguous();
        // TorchSharp's accessor checks the element type but walks neither a 0-dim nor an empty tensor.
        if (dense.dim() == 0) return [dense.item<T>()];
        var accessor = dense.data<T>();
        return dense.numel() == 0 ? [] : accessor.ToArray();
    }

    /// <summary>Copies the elements, row-major, into <paramref name="destination"/> (exactly numel long).</summary>
    public static void CopyTo<T>(this Tensor tensor, Span<T> destination) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var dense = tensor.detach().cpu().contiguous();
        var bytes = dense.bytes;
        var source = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes);
        if (source.Length != destination.Length)
            throw new ArgumentException($"the tensor has {source.Length} elements, the destination {destination.Length}", nameof(destination));
        source.CopyTo(destination);
    }
}
