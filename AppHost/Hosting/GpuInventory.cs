using System.Globalization;
using System.Text;

namespace Pipeline.AppHost.Hosting;

/// <summary>The NVIDIA GPUs this machine shows, and which one a replica of a GPU resource gets.</summary>
public static class GpuInventory
{
    /// <summary>The GPU ids replicas may use: CUDA_VISIBLE_DEVICES when the AppHost runs under one, else one per GPU the
    /// NVIDIA driver lists under /proc/driver/nvidia/gpus; empty on a machine without.</summary>
    public static IReadOnlyList<string> Visible(string? cudaVisibleDevices = null, string driverFolder = "/proc/driver/nvidia/gpus")
    {
        cudaVisibleDevices ??= Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES");
        if (cudaVisibleDevices is not null)
        {
            return [.. cudaVisibleDevices.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(id => id != "-1")];
        }
        if (!Directory.Exists(driverFolder))
        {
            return [];
        }
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

    /// <summary>
    /// A value DCP resolves per replica: Aspire gives each replica of a project its own DCP executable, annotated with its
    /// replica index, and DCP expands Go templates in environment values (Aspire sets <c>OTEL_SERVICE_NAME</c> this way).
    /// <paramref name="valueFor"/> maps a replica index to its value; replicas are numbered 0..<paramref name="replicas"/>-1.
    /// </summary>
    public static string PerReplica(int replicas, Func<int, string> valueFor)
    {
        ArgumentNullException.ThrowIfNull(valueFor);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        const string index = "(index .Annotations \"resource-replica-index\")";
        var template = new StringBuilder();
        for (var i = 0; i < replicas; i++)
        {
            template.Append(CultureInfo.InvariantCulture, $"{{{{- {(i == 0 ? "if" : "else if")} eq {index} \"{i}\" -}}}}{valueFor(i)}");
        }
        template.Append("{{- end -}}");
        return template.ToString();
    }
}
