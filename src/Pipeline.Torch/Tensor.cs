using System.Runtime.InteropServices;
using System.Text;
using Pipeline.Torch.Native;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

/// <summary>
/// A libtorch tensor. Owns its native handle: dispose it (or let a <see cref="DisposeScope"/> do it).
/// Method names follow PyTorch (<c>reshape</c>, <c>log_softmax</c>, <c>add_</c> for in-place).
/// </summary>
public partial class Tensor : IDisposable
{
    internal readonly TensorHandle Handle;
    internal DisposeScope? Scope;

    internal Tensor(IntPtr handle)
    {
        Handle = new TensorHandle(Check(handle));
        DisposeScope.Register(this);
    }

    /// <summary>Takes ownership of another tensor's handle (used by <see cref="Parameter"/>).</summary>
    private protected Tensor(Tensor source, bool registerInScope)
    {
        ArgumentNullException.ThrowIfNull(source);
        Handle = new TensorHandle(Check(pt_alias(source.Handle)));
        if (registerInScope) DisposeScope.Register(this);
    }

    internal static Tensor? FromNullable(IntPtr handle) =>
        CheckNullable(handle) == IntPtr.Zero ? null : new Tensor(handle);

    public bool IsDisposed => Handle.IsClosed;

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing) return;
        Scope?.Remove(this);
        Scope = null;
        Handle.Dispose();
    }

    /// <summary>Moves this tensor to the enclosing scope so it outlives the current one.</summary>
    public Tensor MoveToOuterDisposeScope()
    {
        Scope?.MoveToOuter(this);
        return this;
    }

    /// <summary>Takes this tensor out of every scope: the caller disposes it.</summary>
    public Tensor DetachFromDisposeScope()
    {
        Scope?.Remove(this);
        Scope = null;
        return this;
    }

    // ---- properties ----

    public int dim() => pt_dim(Handle);

    public unsafe long[] shape
    {
        get
        {
            var n = pt_dim(Handle);
            var result = new long[n];
            fixed (long* p = result) pt_shape(Handle, p, n);
            return result;
        }
    }

    public unsafe long[] stride()
    {
        var n = pt_dim(Handle);
        var result = new long[n];
        fixed (long* p = result) pt_strides(Handle, p, n);
        return result;
    }

    /// <summary>The size of one dimension (negative counts from the end).</summary>
    public long size(int dimension)
    {
        var s = shape;
        var d = dimension < 0 ? dimension + s.Length : dimension;
        if (d < 0 || d >= s.Length)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, $"tensor has {s.Length} dimensions");
        return s[d];
    }

    public long numel() => pt_numel(Handle);
    public ScalarType dtype => (ScalarType)pt_dtype(Handle);
    public Device device => new((DeviceType)pt_device_type(Handle), pt_device_index(Handle));
    public bool is_contiguous() => pt_is_contiguous(Handle) != 0;
    public long element_size() => pt_element_size(Handle);
    public bool is_leaf => pt_is_leaf(Handle) != 0;

    // ---- autograd ----

    public bool requires_grad
    {
        get => pt_requires_grad(Handle) != 0;
        set => Check(pt_set_requires_grad(Handle, value ? 1 : 0));
    }

    public Tensor requires_grad_(bool on = true)
    {
        requires_grad = on;
        return this;
    }

    /// <summary>The accumulated gradient (a new handle each read; dispose it), or null.</summary>
    public Tensor? grad
    {
        get => FromNullable(pt_grad(Handle));
        set
        {
            if (value is null)
            {
                Check(pt_set_grad(Handle, IntPtr.Zero));
                return;
            }
            var ok = false;
            value.Handle.DangerousAddRef(ref ok);
            try { Check(pt_set_grad(Handle, value.Handle.DangerousGetHandle())); }
            finally { value.Handle.DangerousRelease(); }
        }
    }

    public void backward(Tensor? gradient = null, bool retain_graph = false, bool create_graph = false)
    {
        if (gradient is null)
        {
            Check(pt_backward(Handle, IntPtr.Zero, retain_graph ? 1 : 0, create_graph ? 1 : 0));
            return;
        }
        var ok = false;
        gradient.Handle.DangerousAddRef(ref ok);
        try { Check(pt_backward(Handle, gradient.Handle.DangerousGetHandle(), retain_graph ? 1 : 0, create_graph ? 1 : 0)); }
        finally { gradient.Handle.DangerousRelease(); }
    }

    /// <summary>Zeroes the gradient in place, or drops it (<paramref name="set_to_none"/>, PyTorch's default).</summary>
    public void zero_grad(bool set_to_none = true) => Check(pt_zero_grad(Handle, set_to_none ? 1 : 0));

    public Tensor detach() => new(pt_detach(Handle));
    public Tensor detach_() { Check(pt_detach_(Handle)); return this; }
    public void retain_grad() => Check(pt_retain_grad(Handle));

    // ---- conversion and copies ----

    public Tensor to(ScalarType type, bool copy = false) => new(pt_to(Handle, (int)type, -1, 0, 0, copy ? 1 : 0));
    public Tensor to(Device target, bool non_blocking = false, bool copy = false) => new(pt_to(Handle, -1, (int)target.Type, target.Index, non_blocking ? 1 : 0, copy ? 1 : 0));
    public Tensor to(Device target, ScalarType type, bool non_blocking = false) => new(pt_to(Handle, (int)type, (int)target.Type, target.Index, non_blocking ? 1 : 0, 0));
    public Tensor to(string target) => to(Device.Parse(target));
    public Tensor cpu() => to(Device.CPU);
    public Tensor cuda(int index = 0) => to(Device.CUDA(index));
    public Tensor @float() => to(ScalarType.Float32);
    public Tensor @double() => to(ScalarType.Float64);
    public Tensor @long() => to(ScalarType.Int64);
    public Tensor @int() => to(ScalarType.Int32);
    public Tensor @bool() => to(ScalarType.Bool);
    public Tensor half() => to(ScalarType.Float16);
    public Tensor bfloat16() => to(ScalarType.BFloat16);
    public Tensor clone() => new(pt_clone(Handle));
    /// <summary>A second handle to the same tensor (shares storage and autograd identity).</summary>
    public Tensor alias() => new(pt_alias(Handle));
    public Tensor copy_(Tensor source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Check(pt_copy_(Handle, source.Handle));
        return this;
    }

    /// <summary>Copies the elements (row-major, from any device) into a new managed array.</summary>
    public unsafe T[] ToArray<T>() where T : unmanaged
    {
        var expected = ScalarTypeExtensions.Of<T>();
        if (expected != dtype)
            throw new InvalidOperationException($"ToArray<{typeof(T).Name}> needs dtype {expected.TorchName()}, but the tensor is {dtype.TorchName()}; convert with .to() first");
        var result = new T[numel()];
        fixed (T* p = result) Check(pt_copy_to(Handle, p, (long)result.Length * sizeof(T)));
        return result;
    }

    /// <summary>Copies the elements into a span of exactly numel() elements.</summary>
    public unsafe void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        var expected = ScalarTypeExtensions.Of<T>();
        if (expected != dtype)
            throw new InvalidOperationException($"CopyTo<{typeof(T).Name}> needs dtype {expected.TorchName()}, but the tensor is {dtype.TorchName()}");
        fixed (T* p = destination) Check(pt_copy_to(Handle, p, (long)destination.Length * sizeof(T)));
    }

    /// <summary>The value of a one-element tensor.</summary>
    public T item<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(double)) { Check(pt_item_double(Handle, out var d)); return (T)(object)d; }
        if (typeof(T) == typeof(float)) { Check(pt_item_double(Handle, out var d)); return (T)(object)(float)d; }
        if (typeof(T) == typeof(long)) { Check(pt_item_long(Handle, out var l)); return (T)(object)l; }
        if (typeof(T) == typeof(int)) { Check(pt_item_long(Handle, out var l)); return (T)(object)checked((int)l); }
        if (typeof(T) == typeof(bool)) { Check(pt_item_long(Handle, out var l)); return (T)(object)(l != 0); }
        throw new NotSupportedException($"item<{typeof(T).Name}> is not supported; use double, float, long, int or bool");
    }

    public override string ToString()
    {
        if (IsDisposed) return "tensor(<disposed>)";
        return $"tensor(shape=[{string.Join(", ", shape)}], dtype={dtype.TorchName()}, device={device})";
    }

    /// <summary>The elements as libtorch prints them.</summary>
    public unsafe string ToFullString()
    {
        const int capacity = 1 << 16;
        var buffer = (byte*)NativeMemory.Alloc(capacity);
        try
        {
            var n = Check(pt_to_string(Handle, buffer, capacity));
            return Encoding.UTF8.GetString(buffer, Math.Min(n, capacity - 1));
        }
        finally { NativeMemory.Free(buffer); }
    }
}
