using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

// native/optim.cpp
internal static partial class NativeMethods
{
    [LibraryImport(Lib)]
    internal static unsafe partial int pt_sgd_step(IntPtr* parameters, int n, IntPtr* momentumBuffers, double lr, double momentum,
        double dampening, double weightDecay, int nesterov, int maximize);

    [LibraryImport(Lib)]
    internal static unsafe partial int pt_adam_step(IntPtr* parameters, int n, IntPtr* expAvgs, IntPtr* expAvgSqs, IntPtr* maxExpAvgSqs,
        long* steps, double lr, double beta1, double beta2, double eps, double weightDecay, int amsgrad, int maximize, int decoupled);

    [LibraryImport(Lib)]
    internal static unsafe partial int pt_clip_grad_norm_(IntPtr* parameters, int n, double maxNorm, double normType, int errorIfNonfinite, out double total);

    [LibraryImport(Lib)] internal static unsafe partial int pt_clip_grad_value_(IntPtr* parameters, int n, double clipValue);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr pt_parameters_to_vector(IntPtr* parameters, int n);
}
