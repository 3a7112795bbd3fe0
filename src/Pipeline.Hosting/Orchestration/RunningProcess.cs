using System.Diagnostics;

namespace Pipeline.Hosting;

/// <summary>One launched process and its tree: started in a new session, output forwarded line by line,
/// stopped by group (TERM, grace, KILL) plus a sweep of everything carrying its marker.</summary>
internal sealed class RunningProcess : IDisposable
{
    private readonly Process process;
    private readonly string[] markers;
    private readonly TaskCompletionSource<int> exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RunningProcess(Process process, string[] markers)
    {
        this.process = process;
        this.markers = markers;
    }

    public int Pid => process.Id;

    /// <summary>Completes with the exit code (128+signal when killed) as soon as the main process ends,
    /// even while a leftover child still holds its output open.</summary>
    public Task<int> Exited => exited.Task;

    /// <param name="markers">NAME=value pairs added to the environment, by which the whole tree is found later.</param>
    public static RunningProcess Start(ProcessLaunch launch, string[] markers, Action<bool, string> output)
    {
        // setsid execs the command (it is not a group leader when .NET forks it), so the pid is the
        // command's own, and it leads a fresh session and process group: Ctrl+C at the terminal does
        // not reach it (the AppHost stops it in order), and kill(-pid) reaches its children.
        EnsureExecutable(launch);
        var psi = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = launch.WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add(launch.FileName);
        foreach (var a in launch.Arguments)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (name, value) in launch.Environment)
        {
            psi.Environment[name] = value;
        }
        foreach (var marker in markers)
        {
            var eq = marker.IndexOf('=', StringComparison.Ordinal);
            psi.Environment[marker[..eq]] = marker[(eq + 1)..];
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var running = new RunningProcess(process, markers);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output(false, e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output(true, e.Data); };
        process.Exited += (_, _) => running.exited.TrySetResult(process.ExitCode);
        process.Start();
        process.StandardInput.Close(); // no terminal input: a daemon reading stdin sees EOF
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return running;
    }

    // setsid would start even for a missing command and exit 1 a moment later: check first, so that
    // a typo shows as FailedToStart instead of an endless restart loop.
    private static void EnsureExecutable(ProcessLaunch launch)
    {
        var candidates = launch.FileName.Contains('/', StringComparison.Ordinal)
            ? [Path.GetFullPath(launch.FileName, launch.WorkingDirectory)]
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(dir, launch.FileName));
        if (!candidates.Any(File.Exists))
        {
            throw new FileNotFoundException($"Command '{launch.FileName}' not found.");
        }
        if (!Directory.Exists(launch.WorkingDirectory))
        {
            throw new DirectoryNotFoundException($"Working directory '{launch.WorkingDirectory}' does not exist.");
        }
    }

    /// <summary>SIGTERM to the group, up to <paramref name="grace"/> for it to end, then SIGKILL to
    /// the group and to every process still carrying the marker.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (!Exited.IsCompleted)
        {
            ProcessTree.SignalGroup(Pid, ProcessTree.SIGTERM);
            await Task.WhenAny(Exited, Task.Delay(grace));
        }
        await KillAsync();
    }

    /// <summary>SIGKILL to the group and every marked process; returns once the main process is reaped.</summary>
    public async Task KillAsync()
    {
        ProcessTree.SignalGroup(Pid, ProcessTree.SIGKILL);
        await ProcessTree.KillMarkedAsync(markers);
        await Exited.WaitAsync(TimeSpan.FromSeconds(10));
        // With the tree gone the pipes close: wait for the last lines, so that a crash's final
        // words are logged before the supervisor's "exited" line.
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (TimeoutException)
        {
            // A stranger inherited the pipe; its lines will still arrive, just later.
        }
    }

    public void Dispose() => process.Dispose();
}
