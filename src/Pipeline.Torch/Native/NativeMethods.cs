using System.Runtime.InteropServices;
using System.Text;

namespace Pipeline.Torch.Native;

/// <summary>
/// The C ABI of the shim (native/*.cpp). Every export returns nullptr or -1 on failure after recording
/// libtorch's message; <see cref="Check(IntPtr)"/> turns that into a <see cref="TorchException"/>.
/// </summary>
internal static partial class NativeMethods
{
    internal const string Lib = "pipeline_torch";

    // Explicit static constructor: the start-up settings run before the first native call, once.
    static NativeMethods()
    {
        var threads = Environment.GetEnvironmentVariable("PIPELINE_TORCH_THREADS") is { } s && int.TryParse(s, out var n) && n > 0
            ? n
            : Environment.ProcessorCount;
        var tuneAllocator = Environment.GetEnvironmentVariable("PIPELINE_TORCH_MALLOC_TUNING") != "0";
        Check(pt_init(threads, tuneAllocator ? 1 : 0));
    }

    /// <summary>Forces the static constructor (threads, allocator) to run now.</summary>
    internal static void EnsureInitialized() { }

    [LibraryImport(Lib)] private static partial int pt_init(int intraOpThreads, int tuneAllocator);
    [LibraryImport(Lib)] private static unsafe partial int pt_take_error(byte* buffer, int capacity);

    internal static IntPtr Check(IntPtr result)
    {
        if (result == IntPtr.Zero) ThrowPending();
        return result;
    }

    internal static int Check(int result)
    {
        if (result < 0) ThrowPending();
        return result;
    }

    /// <summary>For exports that legitimately return nullptr (an absent gradient): throws only when an error is pending.</summary>
    internal static IntPtr CheckNullable(IntPtr result)
    {
        if (result == IntPtr.Zero && TakeError() is { } message) throw new TorchException(message);
        return result;
    }

    private static void ThrowPending() =>
        throw new TorchException(TakeError() ?? "libtorch call failed without a message");

    internal static unsafe string? TakeError()
    {
        const int capacity = 16384;
        var buffer = stackalloc byte[capacity];
        var length = pt_take_error(buffer, capacity);
        if (length < 0) return null;
        return Encoding.UTF8.GetString(buffer, Math.Min(length, capacity - 1)).Trim();
    }
}
