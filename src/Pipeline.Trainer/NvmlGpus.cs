using System.Runtime.InteropServices;
using System.Text;

namespace Pipeline.Trainer;

/// <summary>One GPU's utilisation (0..1) and memory, as NVML reports them.</summary>
public sealed record GpuReading(int Index, string Name, double Utilization, ulong MemoryUsed, ulong MemoryTotal);

/// <summary>
/// The GPUs this process may use, read through NVML (<c>libnvidia-ml.so.1</c>, which comes with the NVIDIA driver and
/// is loaded only if present). NVML sees every GPU of the machine, so <c>CUDA_VISIBLE_DEVICES</c> (indices or
/// <c>GPU-</c> UUIDs, as the AppHost sets it per replica) picks this process's own; indices are taken in NVML's
/// (PCI bus) order, which is CUDA's order on machines of one GPU model.
/// </summary>
public sealed unsafe class NvmlGpus : IDisposable
{
    private const int Success = 0;

    private readonly NvmlLibrary library;
    private readonly (IntPtr Device, int Index, string Name)[] devices;
    private readonly delegate* unmanaged<IntPtr, Utilization*, int> getUtilization;
    private readonly delegate* unmanaged<IntPtr, Memory*, int> getMemory;

    private NvmlGpus(NvmlLibrary library, (IntPtr, int, string)[] devices)
    {
        this.library = library;
        this.devices = devices;
        getUtilization = (delegate* unmanaged<IntPtr, Utilization*, int>)library.Export("nvmlDeviceGetUtilizationRates");
        getMemory = (delegate* unmanaged<IntPtr, Memory*, int>)library.Export("nvmlDeviceGetMemoryInfo");
    }

    /// <summary>Null where there is no NVML, it does not start, or no GPU is visible to this process.</summary>
    public static NvmlGpus? TryOpen(string? cudaVisibleDevices)
    {
        var library = NvmlLibrary.TryLoad();
        if (library is null)
        {
            return null;
        }
        try
        {
            var devices = Visible(library, cudaVisibleDevices);
            if (devices.Length > 0)
            {
                return new NvmlGpus(library, devices);
            }
        }
        catch (EntryPointNotFoundException)
        {
            // A driver too old for these calls: no GPU metrics.
        }
        library.Dispose();
        return null;
    }

    /// <summary>The visible GPUs now; a GPU NVML cannot read (lost, resetting) is left out.</summary>
    public IReadOnlyList<GpuReading> Read()
    {
        var readings = new List<GpuReading>(devices.Length);
        foreach (var (device, index, name) in devices)
        {
            Utilization utilization;
            Memory memory;
            if (getUtilization(device, &utilization) == Success && getMemory(device, &memory) == Success)
            {
                readings.Add(new GpuReading(index, name, utilization.Gpu / 100.0, memory.Used, memory.Total));
            }
        }
        return readings;
    }

    public void Dispose() => library.Dispose();

    private static (IntPtr, int, string)[] Visible(NvmlLibrary library, string? cudaVisibleDevices)
    {
        var getCount = (delegate* unmanaged<uint*, int>)library.Export("nvmlDeviceGetCount_v2");
        var byIndex = (delegate* unmanaged<uint, IntPtr*, int>)library.Export("nvmlDeviceGetHandleByIndex_v2");
        var byUuid = (delegate* unmanaged<byte*, IntPtr*, int>)library.Export("nvmlDeviceGetHandleByUUID");
        var getIndex = (delegate* unmanaged<IntPtr, uint*, int>)library.Export("nvmlDeviceGetIndex");
        var getName = (delegate* unmanaged<IntPtr, byte*, uint, int>)library.Export("nvmlDeviceGetName");
        uint count;
        if (getCount(&count) != Success)
        {
            return [];
        }

        var handles = new List<IntPtr>();
        if (cudaVisibleDevices is null)
        {
            for (uint i = 0; i < count; i++)
            {
                IntPtr device;
                if (byIndex(i, &device) == Success) handles.Add(device);
            }
        }
        else
        {
            // CUDA stops at the first entry it cannot use; so does this.
            foreach (var entry in cudaVisibleDevices.Split(',', StringSplitOptions.TrimEntries))
            {
                IntPtr device;
                if (uint.TryParse(entry, out var i) && i < count && byIndex(i, &device) == Success)
                {
                    handles.Add(device);
                    continue;
                }
                var uuid = Encoding.ASCII.GetBytes(entry + "\0");
                fixed (byte* u = uuid)
                {
                    if (!entry.StartsWith("GPU-", StringComparison.Ordinal) || byUuid(u, &device) != Success) break;
                }
                handles.Add(device);
            }
        }

        var visible = new (IntPtr, int, string)[handles.Count];
        var name = stackalloc byte[96];
        for (var d = 0; d < handles.Count; d++)
        {
            uint index;
            var i = getIndex(handles[d], &index) == Success ? (int)index : -1;
            var text = getName(handles[d], name, 96) == Success ? Marshal.PtrToStringAnsi((IntPtr)name) ?? "" : "";
            visible[d] = (handles[d], i, text);
        }
        return visible;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Utilization
    {
        public uint Gpu;
        public uint Memory;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Memory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    /// <summary>The loaded library with NVML started; releasing it shuts NVML down and unloads the library.</summary>
    private sealed class NvmlLibrary : SafeHandle
    {
        private NvmlLibrary(IntPtr library) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(library);

        public override bool IsInvalid => handle == IntPtr.Zero;

        public static NvmlLibrary? TryLoad()
        {
            if (!NativeLibrary.TryLoad("libnvidia-ml.so.1", out var library))
            {
                return null;
            }
            if (!NativeLibrary.TryGetExport(library, "nvmlInit_v2", out var init) || ((delegate* unmanaged<int>)init)() != Success)
            {
                NativeLibrary.Free(library);
                return null;
            }
            return new NvmlLibrary(library);
        }

        public IntPtr Export(string name) => NativeLibrary.GetExport(handle, name);

        protected override bool ReleaseHandle()
        {
            if (NativeLibrary.TryGetExport(handle, "nvmlShutdown", out var shutdown)) ((delegate* unmanaged<int>)shutdown)();
            NativeLibrary.Free(handle);
            return true;
        }
    }
}
