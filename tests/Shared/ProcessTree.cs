using System.Globalization;
using System.Text;

namespace Pipeline.Tests.Support;

/// <summary>An independent look at /proc: process trees, command lines, and which processes still mention a run.</summary>
public static class ProcessTree
{
    public static int? ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static IEnumerable<int> All() =>
        Directory.EnumerateDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : -1).Where(pid => pid > 0);

    /// <summary>Every descendant of <paramref name="root"/>, parents before children.</summary>
    public static List<int> Descendants(int root)
    {
        var parents = All().Select(pid => (Pid: pid, Parent: ParentOf(pid))).Where(p => p.Parent is not null).ToList();
        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.Count > 0)
        {
            var parent = frontier.Dequeue();
            foreach (var child in parents.Where(p => p.Parent == parent).Select(p => p.Pid))
            {
                found.Add(child);
                frontier.Enqueue(child);
            }
        }
        return found;
    }

    public static string CommandLine(int pid)
    {
        try
        {
            return Encoding.UTF8.GetString(File.ReadAllBytes($"/proc/{pid}/cmdline")).Replace('\0', ' ').Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    public static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/cmdline") && CommandLine(pid).Length > 0;

    /// <summary>Processes (other than this one) whose command line or environment mentions any of <paramref name="needles"/>.</summary>
    public static List<string> Mentioning(params string[] needles)
    {
        var found = new List<string>();
        foreach (var pid in All().Where(p => p != Environment.ProcessId))
        {
            try
            {
                var cmdline = CommandLine(pid);
                var environ = Encoding.UTF8.GetString(File.ReadAllBytes($"/proc/{pid}/environ"));
                if (cmdline.Length > 0 && needles.Any(n => cmdline.Contains(n, StringComparison.Ordinal) || environ.Contains(n, StringComparison.Ordinal)))
                {
                    found.Add($"{pid}: {cmdline}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited meanwhile, or not ours.
            }
        }
        return found;
    }

    /// <summary>Which of <paramref name="pids"/> are still alive once the stragglers had <paramref name="grace"/> (5 s unless
    /// given) to go.</summary>
    public static async Task<List<string>> SurvivorsAsync(IReadOnlyCollection<int> pids, TimeSpan? grace = null)
    {
        var alive = pids.Where(IsAlive).ToList();
        var deadline = DateTime.UtcNow + (grace ?? TimeSpan.FromSeconds(5));
        while (alive.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
            alive = [.. alive.Where(IsAlive)];
        }
        return [.. alive.Select(pid => $"{pid}: {CommandLine(pid)}")];
    }
}
