using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

// Views and shape operations.
public partial class Tensor
{
    public unsafe Tensor reshape(params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        fixed (long* p = shape) return new(pt_reshape(Handle, p, shape.Length));
    }

    public unsafe Tensor view(params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        fixed (long* p = shape) return new(pt_view(Handle, p, shape.Length));
    }

    public Tensor flatten(long start_dim = 0, long end_dim = -1) => new(pt_flatten(Handle, start_dim, end_dim));
    public Tensor transpose(long dim0, long dim1) => new(pt_transpose(Handle, dim0, dim1));
    /// <summary>The transpose of a 2-D tensor.</summary>
    public Tensor t() => transpose(0, 1);

    public unsafe Tensor permute(params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        fixed (long* p = dims) return new(pt_permute(Handle, p, dims.Length));
    }

    public Tensor contiguous() => new(pt_contiguous(Handle));
    public Tensor squeeze() => new(pt_squeeze(Handle, 0, 1));
    public Tensor squeeze(long dim) => new(pt_squeeze(Handle, dim, 0));
    public Tensor unsqueeze(long dim) => new(pt_unsqueeze(Handle, dim));
}
