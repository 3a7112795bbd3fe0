using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Pipeline.Distributed;

/// <summary>Where a contiguous tensor's first element lives.</summary>
internal static partial class TensorBuffer
{
    // at::Tensor::data_ptr() (storage base + storage offset), exported by TorchSharp's own native library, already
    // loaded by TorchSharp. Its public storage<T>().data_ptr() would do for float32/float64/int64, but TorchSharp
    // has no bfloat16 storage, so one path for every dtype.
    [LibraryImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    private static partial IntPtr Data(IntPtr tensor);

    public static IntPtr Pointer(Tensor tensor)
    {
        if (tensor.numel() == 0) return IntPtr.Zero;
        var data = Data(tensor.Handle);
        if (data == IntPtr.Zero) CheckForErrors();
        return data;
    }
}
