using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

// native/nn.cpp, native/loss.cpp, native/init.cpp. Optional tensors travel as raw pointers (IntPtr.Zero
// for none), kept alive by OptionalHandle for the duration of the call.
internal static partial class NativeMethods
{
    [LibraryImport(Lib)] internal static partial IntPtr pt_linear(TensorHandle input, TensorHandle weight, IntPtr bias);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_conv2d(TensorHandle input, TensorHandle weight, IntPtr bias, long* stride, long* padding, long* dilation, long groups);
    [LibraryImport(Lib)] internal static partial IntPtr pt_batch_norm(TensorHandle input, IntPtr runningMean, IntPtr runningVar, IntPtr weight, IntPtr bias, int training, double momentum, double eps);
    [LibraryImport(Lib)] internal static partial IntPtr pt_group_norm(TensorHandle input, long numGroups, IntPtr weight, IntPtr bias, double eps);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_layer_norm(TensorHandle input, long* normalizedShape, int n, IntPtr weight, IntPtr bias, double eps);
    [LibraryImport(Lib)] internal static partial IntPtr pt_silu(TensorHandle a);
    [LibraryImport(Lib)] internal static partial IntPtr pt_gelu(TensorHandle a, int tanhApproximation);
    [LibraryImport(Lib)] internal static partial IntPtr pt_leaky_relu(TensorHandle a, double negativeSlope);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_max_pool2d(TensorHandle input, long* kernel, long* stride, long* padding, long* dilation, int ceilMode);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_avg_pool2d(TensorHandle input, long* kernel, long* stride, long* padding, int ceilMode, int countIncludePad, long divisorOverride);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_adaptive_avg_pool2d(TensorHandle input, long* outputSize);
    [LibraryImport(Lib)] internal static partial IntPtr pt_dropout(TensorHandle input, double p, int training);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_interpolate(TensorHandle input, long* size, double* scaleFactors, int mode, int alignCorners, int antialias);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_constant_pad(TensorHandle input, long* pad, int n, Scalar value);

    [LibraryImport(Lib)] internal static partial IntPtr pt_cross_entropy(TensorHandle input, TensorHandle target, IntPtr weight, long reduction, long ignoreIndex, double labelSmoothing);
    [LibraryImport(Lib)] internal static partial IntPtr pt_nll_loss(TensorHandle input, TensorHandle target, IntPtr weight, long reduction, long ignoreIndex);
    [LibraryImport(Lib)] internal static partial IntPtr pt_binary_cross_entropy_with_logits(TensorHandle input, TensorHandle target, IntPtr weight, IntPtr posWeight, long reduction);
    [LibraryImport(Lib)] internal static partial IntPtr pt_mse_loss(TensorHandle input, TensorHandle target, long reduction);
    [LibraryImport(Lib)] internal static partial IntPtr pt_l1_loss(TensorHandle input, TensorHandle target, long reduction);
    [LibraryImport(Lib)] internal static partial IntPtr pt_smooth_l1_loss(TensorHandle input, TensorHandle target, long reduction, double beta);

    [LibraryImport(Lib)] internal static partial int pt_uniform_(TensorHandle t, double from, double to);
    [LibraryImport(Lib)] internal static partial int pt_normal_(TensorHandle t, double mean, double std);
    [LibraryImport(Lib)] internal static partial int pt_fill_no_grad_(TensorHandle t, Scalar value);
    [LibraryImport(Lib)] internal static partial int pt_copy_no_grad_(TensorHandle destination, TensorHandle source);
    [LibraryImport(Lib)] internal static partial int pt_set_data(TensorHandle t, TensorHandle data);
}

/// <summary>Keeps an optional tensor's handle alive across one native call; <see cref="Pointer"/> is zero for none.</summary>
internal ref struct OptionalHandle
{
    private readonly Tensor? tensor;
    private bool added;

    public OptionalHandle(Tensor? tensor)
    {
        this.tensor = tensor;
        added = false;
        Pointer = IntPtr.Zero;
        if (tensor is null) return;
        tensor.Handle.DangerousAddRef(ref added);
        Pointer = tensor.Handle.DangerousGetHandle();
    }

    public IntPtr Pointer { get; }

    public void Dispose()
    {
        if (added) tensor!.Handle.DangerousRelease();
        added = false;
    }
}
