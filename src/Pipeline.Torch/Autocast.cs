using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    /// <summary>
    /// <c>using (torch.autocast(DeviceType.CPU)) { ... }</c>: eligible ops (matmul, linear, conv, ...) run in
    /// <paramref name="dtype"/>, as under Python's <c>torch.autocast</c>. The state is per thread: dispose the
    /// scope on the thread that created it (not across an <c>await</c>).
    /// </summary>
    public static AutocastScope autocast(DeviceType deviceType, ScalarType dtype = ScalarType.BFloat16, bool enabled = true)
    {
        EnsureInitialized();
        return new AutocastScope(deviceType, dtype, enabled);
    }

    public static bool is_autocast_enabled(DeviceType deviceType)
    {
        Check(pt_autocast_get((int)deviceType, out var enabled, out _));
        return enabled != 0;
    }

    public static ScalarType get_autocast_dtype(DeviceType deviceType)
    {
        Check(pt_autocast_get((int)deviceType, out _, out var dtype));
        return (ScalarType)dtype;
    }
}
#pragma warning restore CA1707, IDE1006

/// <summary>Restores the previous autocast state of its device on Dispose (and clears the cast cache when leaving the outermost scope).</summary>
public sealed class AutocastScope : IDisposable
{
    private readonly DeviceType device;
    private readonly int previousEnabled;
    private readonly int previousDtype;
    private bool disposed;

    internal AutocastScope(DeviceType device, ScalarType dtype, bool enabled)
    {
        this.device = device;
        Check(pt_autocast_enter((int)device, enabled ? 1 : 0, (int)dtype, out previousEnabled, out previousDtype));
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Check(pt_autocast_exit((int)device, previousEnabled, previousDtype));
    }
}
