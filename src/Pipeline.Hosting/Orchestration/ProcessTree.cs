using System.Runtime.InteropServices;
using System.Text;

namespace Pipeline.Hosting;

/// <summary>Signals and finds the processes of a launch. Every launch runs in its own session and process
/// group (via setsid), so one kill(-pgid) reaches its children; daemons that leave the group (epmd
/// double-forks into its own session) are found by the marker variables every descendant inherits.</summary>
internal static partial class ProcessTree
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public const string RunDirectoryVariable = "PIPELINE_RUN_DIR";
    public const string InstanceVariable = "PIPELINE_INSTANCE";

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Signals the process group led by <paramref name="pgid"/>; false when it has no members left.</summary>
    public static bool SignalGroup(int pgid, int signal) => Kill(-pgid, signal) == 0;

    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>Live processes (not this one) whose environment holds every given NAME=value.</summary>
    public static List<int> FindMarked(params string[] markers)
    {
        var needles = markers.Select(m => Encoding.UTF8.GetBytes(m + "\0")).ToArray();
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                var environ = File.ReadAllBytes(Path.Combine(dir, "environ"));
                if (needles.All(n => Contains(environ, n)) && !IsZombie(dir))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or another user's: not ours.
            }
        }
        return found;
    }

    /// <summary>SIGKILL every marked process until none is left (a dying parent may fork once more).</summary>
    public static async Task KillMarkedAsync(params string[] markers)
    {
        for (var pass = 0; pass < 20; pass++)
        {
            var pids = FindMarked(markers);
            if (pids.Count == 0)
            {
                return;
            }
            foreach (var pid in pids)
            {
                Signal(pid, SIGKILL);
            }
            await Task.Delay(50);
        }
    }

    private static bool Contains(byte[] environ, byte[] needle)
    {
        // Match whole entries: at the start or right after a NUL separator.
        for (var i = environ.AsSpan().IndexOf(needle); i >= 0;)
        {
            if (i == 0 || environ[i - 1] == 0)
            {
                return true;
            }
            var next = environ.AsSpan(i + 1).IndexOf(needle);
            i = next < 0 ? -1 : i + 1 + next;
        }
        return false;
    }

    private static bool IsZombie(string procDir)
    {
        var stat = File.ReadAllText(Path.Combine(procDir, "stat"));
        return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
    }
}
