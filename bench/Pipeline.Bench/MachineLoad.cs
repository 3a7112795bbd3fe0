namespace Pipeline.Bench;

/// <summary>Other work on the machine skews timings: benchmarks print the load average beside their figures.</summary>
internal static class MachineLoad
{
    public static string Average() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
