using System.Runtime.InteropServices;

namespace Pipeline.Torch.Native;

// native/amp.cpp
internal static partial class NativeMethods
{
    [LibraryImport(Lib)] internal static partial int pt_autocast_get(int deviceType, out int enabled, out int dtype);
    [LibraryImport(Lib)] internal static partial int pt_autocast_enter(int deviceType, int enabled, int dtype, out int previousEnabled, out int previousDtype);
    [LibraryImport(Lib)] internal static partial int pt_autocast_exit(int deviceType, int previousEnabled, int previousDtype);
}
