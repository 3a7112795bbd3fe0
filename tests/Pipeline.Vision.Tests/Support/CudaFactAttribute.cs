using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests.Support;

/// <summary>A fact that runs where libtorch sees a CUDA device and is reported as skipped, with the reason, elsewhere.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!torch.cuda.is_available()) Skip = "CUDA is not available on this machine (libtorch sees no GPU)";
    }
}
