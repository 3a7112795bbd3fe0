using System.Globalization;

namespace Pipeline.Hosting;

/// <summary>The NVIDIA GPUs this machine shows, and which one a GPU resource's replica gets.</summary>
public static class GpuInventory
{
    /// <summary>The GPU ids replicas may use: CUDA_VISIBLE_DEVICES when the AppHost runs under one, else one per GPU the
    /// NVIDIA driver lists under /proc/driver/nvidia/gpus; empty on a machine without.</summary>
    public static IReadOnlyList<string> Visible(string? cudaVisibleDevices = null, string driverFolder = "/proc/driver/nvidia/gpus")
    {
        cudaVisibleDevices ??= Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES");
        if (cudaVisibleDevices is not null)
            return [.. cudaVisibleDevices.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(id => id != "-1")];
        if (!Directory.Exists(driverFolder)) return [];
        var count = Directory.GetDirectories(driverFolder).Length;
        return [.. Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture))];
    }

    /// <summary>The GPU of replica <paramref name="replica"/> (round robin), or null when there is none to give.</summary>
    public static string? DeviceFor(int replica, IReadOnlyList<string> visible)
    {
        ArgumentNullException.ThrowIfNull(visible);
        ArgumentOutOfRangeException.ThrowIfNegative(replica);
        return visible.Count == 0 ? null : visible[replica % visible.Count];
    }
}
