using TorchSharp;
using Pipeline.ElfPatch;
using static TorchSharp.torch;

namespace Pipeline.Distributed.Tests;

/// <summary>TorchSharp's native library loads on Debian 12 thanks to the build's libstdc++ version step.</summary>
public sealed class TorchSharpLoadsTests
{
    [Fact]
    public void A_tensor_op_runs_through_TorchSharp_s_own_libtorch()
    {
        using var sum = ones(2, 2).sum();
        Assert.Equal(4f, sum.ToSingle());

        // Loaded from this output folder (the patched copy), never Debian's libtorch in /usr/lib.
        var maps = File.ReadAllLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length >= 6).Select(f => f[5]).Distinct().ToList();
        var native = maps.Single(p => Path.GetFileName(p) == "libLibTorchSharp.so");
        Assert.Equal(Path.GetFullPath(AppContext.BaseDirectory), Path.GetDirectoryName(native) + "/");
        var torchCpu = maps.Single(p => Path.GetFileName(p) == "libtorch_cpu.so");
        Assert.StartsWith(Path.GetFullPath(AppContext.BaseDirectory), torchCpu, StringComparison.Ordinal);
        Assert.True(ElfVersionNeeds.Read(File.ReadAllBytes(native)).Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
    }
}
