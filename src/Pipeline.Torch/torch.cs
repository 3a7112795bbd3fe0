using System.Text;
using Pipeline.Torch.Native;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

/// <summary>
/// The entry point, as in PyTorch: <c>torch.zeros(2, 3)</c>, <c>torch.nn.functional.relu(x)</c>,
/// <c>torch.optim.AdamW(...)</c>. Bring it in with <c>using static Pipeline.Torch.torch;</c>.
/// </summary>
#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public const ScalarType uint8 = ScalarType.Byte;
    public const ScalarType int8 = ScalarType.Int8;
    public const ScalarType int16 = ScalarType.Int16;
    public const ScalarType int32 = ScalarType.Int32;
    public const ScalarType int64 = ScalarType.Int64;
    public const ScalarType float16 = ScalarType.Float16;
    public const ScalarType float32 = ScalarType.Float32;
    public const ScalarType float64 = ScalarType.Float64;
    public const ScalarType bfloat16 = ScalarType.BFloat16;
    public const ScalarType @bool = ScalarType.Bool;

    public static Device device(string name) => Device.Parse(name);
    public static readonly Device CPU = Device.CPU;

    /// <summary>The libtorch version the shim was built against.</summary>
    public static unsafe string version
    {
        get
        {
            var buffer = stackalloc byte[64];
            var n = pt_version(buffer, 64);
            return Encoding.ASCII.GetString(buffer, Math.Min(n, 63));
        }
    }

    public static DisposeScope NewDisposeScope()
    {
        EnsureInitialized();
        return new DisposeScope();
    }

    public static void manual_seed(long seed) => Check(pt_manual_seed(seed));
    public static void use_deterministic_algorithms(bool on) => Check(pt_set_deterministic(on ? 1 : 0));
    public static int get_num_threads() => pt_get_num_threads();
    public static void set_num_threads(int threads) => Check(pt_set_num_threads(threads));

    /// <summary>The CPU generator's state, for exact resume.</summary>
    public static Tensor get_rng_state() => new(pt_get_rng_state());
    public static void set_rng_state(Tensor state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Check(pt_set_rng_state(state.Handle));
    }

    public static bool is_grad_enabled() => pt_is_grad_enabled() != 0;

    /// <summary><c>using (torch.no_grad()) { ... }</c>: no graph is recorded inside.</summary>
    public static GradModeScope no_grad() => new(false);
    public static GradModeScope enable_grad() => new(true);

    public static class cuda
    {
        public static bool is_available() => pt_cuda_is_available() != 0;
        public static int device_count() => pt_cuda_device_count();
        public static void synchronize(int index = 0) => Check(pt_cuda_synchronize(index));
    }

    // ---- creation ----

    public static unsafe Tensor empty(long[] shape, ScalarType dtype = float32, Device? device = null, bool requires_grad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var d = device ?? Device.CPU;
        fixed (long* p = shape) return new(pt_empty(p, shape.Length, (int)dtype, (int)d.Type, d.Index, requires_grad ? 1 : 0));
    }
    public static Tensor empty(params long[] shape) => empty(shape, float32);

    public static unsafe Tensor zeros(long[] shape, ScalarType dtype = float32, Device? device = null, bool requires_grad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var d = device ?? Device.CPU;
        fixed (long* p = shape) return new(pt_zeros(p, shape.Length, (int)dtype, (int)d.Type, d.Index, requires_grad ? 1 : 0));
    }
    public static Tensor zeros(params long[] shape) => zeros(shape, float32);

    public static unsafe Tensor ones(long[] shape, ScalarType dtype = float32, Device? device = null, bool requires_grad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var d = device ?? Device.CPU;
        fixed (long* p = shape) return new(pt_ones(p, shape.Length, (int)dtype, (int)d.Type, d.Index, requires_grad ? 1 : 0));
    }
    public static Tensor ones(params long[] shape) => ones(shape, float32);

    public static unsafe Tensor full(long[] shape, Scalar value, ScalarType? dtype = null, Device? device = null, bool requires_grad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var d = device ?? Device.CPU;
        var t = dtype ?? DefaultType(value);
        fixed (long* p = shape) return new(pt_full(p, shape.Length, value, (int)t, (int)d.Type, d.Index, requires_grad ? 1 : 0));
    }

    public static unsafe Tensor rand(long[] shape, ScalarType dtype = float32, Device? device = null, bool requires_grad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var d = device ?? Device.CPU;
        fixed (long* p = shape) return new(pt_rand(p, shape.Length, (int)dtype, (int)d.Type, d.Index, requires_grad ? 1 : 0));
    }
    public static Tensor rand(params long[] shape) => rand(shape, float32);

    public static unsafe Tensor randn(long[] shape, ScalarType dtype = float32, Device? device = null, bool requires_grad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var d = device ?? Device.CPU;
        fixed (long* p = shape) return new(pt_randn(p, shape.Length, (int)dtype, (int)d.Type, d.Index, requires_grad ? 1 : 0));
    }
    public static Tensor randn(params long[] shape) => randn(shape, float32);

    /// <summary>Integers uniformly drawn from [low, high).</summary>
    public static unsafe Tensor randint(long low, long high, long[] shape, ScalarType dtype = int64, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var d = device ?? Device.CPU;
        fixed (long* p = shape) return new(pt_randint(low, high, p, shape.Length, (int)dtype, (int)d.Type, d.Index));
    }

    public static Tensor randperm(long n, ScalarType dtype = int64, Device? device = null)
    {
        var d = device ?? Device.CPU;
        return new(pt_randperm(n, (int)dtype, (int)d.Type, d.Index));
    }

    public static Tensor arange(Scalar start, Scalar end, Scalar? step = null, ScalarType? dtype = null, Device? device = null, bool requires_grad = false)
    {
        var d = device ?? Device.CPU;
        var s = step ?? 1;
        var t = dtype ?? (start.IsFloatingPoint || end.IsFloatingPoint || s.IsFloatingPoint ? float32 : int64);
        return new(pt_arange(start, end, s, (int)t, (int)d.Type, d.Index, requires_grad ? 1 : 0));
    }
    public static Tensor arange(Scalar end) => arange(0, end);

    public static Tensor linspace(double start, double end, long steps, ScalarType dtype = float32, Device? device = null)
    {
        var d = device ?? Device.CPU;
        return new(pt_linspace(start, end, steps, (int)dtype, (int)d.Type, d.Index));
    }

    public static Tensor eye(long n, long? m = null, ScalarType dtype = float32, Device? device = null)
    {
        var d = device ?? Device.CPU;
        return new(pt_eye(n, m ?? n, (int)dtype, (int)d.Type, d.Index));
    }

    public static Tensor scalar_tensor(Scalar value, ScalarType? dtype = null, Device? device = null)
    {
        var d = device ?? Device.CPU;
        return new(pt_scalar_tensor(value, (int)(dtype ?? DefaultType(value)), (int)d.Type, d.Index));
    }

    /// <summary>A tensor holding a copy of <paramref name="data"/>, shaped as <paramref name="shape"/> (1-D by default).</summary>
    public static unsafe Tensor tensor<T>(ReadOnlySpan<T> data, long[]? shape = null, Device? device = null, bool requires_grad = false) where T : unmanaged
    {
        shape ??= [data.Length];
        long count = 1;
        foreach (var s in shape) count *= s;
        if (count != data.Length)
            throw new ArgumentException($"{data.Length} values cannot fill a tensor of shape [{string.Join(", ", shape)}] ({count} elements)", nameof(shape));
        Tensor result;
        fixed (T* p = data)
        fixed (long* s = shape)
            result = new Tensor(pt_from_data(p, (long)data.Length * sizeof(T), s, shape.Length, (int)ScalarTypeExtensions.Of<T>()));
        if (device is { } d && d != Device.CPU)
        {
            var moved = result.to(d);
            result.Dispose();
            result = moved;
        }
        if (requires_grad) result.requires_grad = true;
        return result;
    }

    public static Tensor tensor<T>(T[] data, long[]? shape = null, Device? device = null, bool requires_grad = false) where T : unmanaged =>
        tensor((ReadOnlySpan<T>)data, shape, device, requires_grad);

    /// <summary>A 0-dimensional tensor.</summary>
    public static Tensor tensor(double value, ScalarType dtype = float32) => scalar_tensor(value, dtype);

    public static Tensor zeros_like(Tensor other) => new(pt_zeros_like(Arg(other)));
    public static Tensor ones_like(Tensor other) => new(pt_ones_like(Arg(other)));
    public static Tensor empty_like(Tensor other) => new(pt_empty_like(Arg(other)));
    public static Tensor full_like(Tensor other, Scalar value) => new(pt_full_like(Arg(other), value));
    public static Tensor rand_like(Tensor other) => new(pt_rand_like(Arg(other)));
    public static Tensor randn_like(Tensor other) => new(pt_randn_like(Arg(other)));

    // ---- joining ----

    public static unsafe Tensor cat(IReadOnlyList<Tensor> tensors, long dim = 0)
    {
        using var handles = new HandleList(ToSpan(tensors));
        fixed (IntPtr* p = handles.Pointers) return new(pt_cat(p, handles.Pointers.Length, dim));
    }

    public static unsafe Tensor stack(IReadOnlyList<Tensor> tensors, long dim = 0)
    {
        using var handles = new HandleList(ToSpan(tensors));
        fixed (IntPtr* p = handles.Pointers) return new(pt_stack(p, handles.Pointers.Length, dim));
    }

    internal static ReadOnlySpan<Tensor> ToSpan(IReadOnlyList<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        return tensors is Tensor[] array ? array : tensors.ToArray();
    }

    // PyTorch's inference for a Python number: float -> float32, bool -> bool, int -> int64.
    private static ScalarType DefaultType(Scalar value) => value.IsFloatingPoint ? float32 : value.IsBoolean ? @bool : int64;

    internal static TensorHandle Arg(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return t.Handle;
    }
}
#pragma warning restore CA1707, IDE1006

/// <summary>Sets libtorch's grad mode for this thread and restores the previous mode on Dispose.</summary>
public readonly struct GradModeScope : IDisposable
{
    private readonly bool previous;

    internal GradModeScope(bool enabled)
    {
        previous = pt_is_grad_enabled() != 0;
        pt_set_grad_enabled(enabled ? 1 : 0);
    }

    public void Dispose() => pt_set_grad_enabled(previous ? 1 : 0);
}
