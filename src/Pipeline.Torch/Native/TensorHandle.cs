using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

/// <summary>Owns one native <c>at::Tensor*</c>; freed exactly once, on Dispose or by the finalizer as a backstop.</summary>
internal sealed class TensorHandle : SafeHandle
{
    public TensorHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    internal TensorHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.pt_tensor_free(handle);
        return true;
    }
}

/// <summary>
/// Pins a list of tensors' handles for the duration of one native call that takes an array of them.
/// </summary>
internal ref struct HandleList
{
    private readonly ReadOnlySpan<Tensor> tensors;
    private readonly IntPtr[] pointers;
    private int added;

    public HandleList(ReadOnlySpan<Tensor> tensors)
    {
        this.tensors = tensors;
        pointers = new IntPtr[tensors.Length];
        added = 0;
        try
        {
            for (var k = 0; k < tensors.Length; k++)
            {
                var ok = false;
                tensors[k].Handle.DangerousAddRef(ref ok);
                added++;
                pointers[k] = tensors[k].Handle.DangerousGetHandle();
            }
        }
        catch
        {
            // A disposed (or null) entry: release the references already taken, or those handles never free.
            Dispose();
            throw;
        }
    }

    public readonly IntPtr[] Pointers => pointers;

    public void Dispose()
    {
        for (var k = 0; k < added; k++) tensors[k].Handle.DangerousRelease();
        added = 0;
    }
}
