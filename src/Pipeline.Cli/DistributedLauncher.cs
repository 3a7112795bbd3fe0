using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Pipeline.Training.Distributed;

namespace Pipeline.Cli;

/// <summary>
/// <c>pipeline train --nproc N</c>, torchrun-style: starts N copies of this command on this machine, each told its rank
/// through RANK/LOCAL_RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, with max(1, cores / N) intra-op threads. Rank 0 owns the
/// run folder, the progress display and the final report (its output is the command's); the others' output is relayed
/// to stderr prefixed with their rank. If a rank dies the others are killed and the command fails naming the rank;
/// Ctrl+C (or SIGTERM) is passed on to every rank, which stop together at the next step with a checkpoint.
/// </summary>
public sealed partial class DistributedLauncher(IReadOnlyList<string> arguments, int processes, string output, TextWriter stdout, TextWriter stderr)
{
    /// <summary>The run folder every rank must use (resolved once here, so that a default name is the same for all).</summary>
    public const string OutputVariable = "PIPELINE_LAUNCH_OUTPUT";
    /// <summary>The launcher's pid: a rank whose launcher is gone exits rather than train on alone.</summary>
    public const string LauncherPidVariable = "PIPELINE_LAUNCHER_PID";

    /// <summary>How long ranks get to stop by themselves after Ctrl+C before they are killed.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(25);
    private readonly Lock writeGate = new();

    public int Run(CancellationToken cancellation)
    {
        var port = DistributedSettings.FreePort();
        var threads = Math.Max(1, Environment.ProcessorCount / processes);
        // In a terminal rank 0 writes straight to it (its progress bar); embedded (tests), its output is relayed.
        var relay = !ReferenceEquals(stdout, Console.Out) || !ReferenceEquals(stderr, Console.Error);
        var ranks = new List<Process>();
        try
        {
            for (var rank = 0; rank < processes; rank++) ranks.Add(Start(rank, port, threads, relay || rank > 0));
            stderr.WriteLine($"launched {processes} ranks (pids {string.Join(", ", ranks.Select(p => p.Id))}), {threads} intra-op threads each, rendezvous on 127.0.0.1:{port}");
            return Supervise(ranks, cancellation);
        }
        finally
        {
            foreach (var p in ranks)
            {
                KillQuietly(p);
                p.Dispose();
            }
        }
    }

    private int Supervise(List<Process> ranks, CancellationToken cancellation)
    {
        DateTime? killAt = null;
        while (true)
        {
            if (cancellation.IsCancellationRequested && killAt is null)
            {
                foreach (var p in ranks.Where(p => !p.HasExited)) _ = Interrupt(p.Id);
                killAt = DateTime.UtcNow + StopGrace;
            }
            // The first rank to fail is the cause; the others fail because of it (or would hang until the timeout).
            var failed = ranks.Select((p, rank) => (p, rank)).Where(x => x.p.HasExited && x.p.ExitCode != 0)
                .OrderBy(x => x.p.ExitTime).FirstOrDefault();
            if (failed.p is not null && killAt is null)
            {
                foreach (var p in ranks) KillQuietly(p);
                foreach (var p in ranks) p.WaitForExit();
                var code = failed.p.ExitCode;
                var how = code > 128 ? $"was killed by signal {code - 128}" : $"exited with code {code}";
                Write(stderr, $"error: rank {failed.rank} (pid {failed.p.Id}) {how}; stopped the other ranks");
                return 1;
            }
            if (ranks.All(p => p.HasExited))
            {
                foreach (var p in ranks) p.WaitForExit();
                // Interrupted ranks exit with 130 (after a checkpoint); ones that had finished anyway, with 0.
                return ranks.Any(p => p.ExitCode != 0) ? 130 : 0;
            }
            if (killAt is { } deadline && DateTime.UtcNow > deadline)
            {
                foreach (var p in ranks) KillQuietly(p);
                foreach (var p in ranks) p.WaitForExit();
                Write(stderr, "error: ranks did not stop after the interrupt; killed them");
                return 130;
            }
            Thread.Sleep(100);
        }
    }

    private Process Start(int rank, int port, int threads, bool redirect)
    {
        var psi = new ProcessStartInfo(DotnetHost()) { UseShellExecute = false, RedirectStandardOutput = redirect, RedirectStandardError = redirect };
        psi.ArgumentList.Add(typeof(DistributedLauncher).Assembly.Location);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        var env = psi.Environment;
        env[DistributedSettings.RankVariable] = rank.ToString(CultureInfo.InvariantCulture);
        env[DistributedSettings.LocalRankVariable] = rank.ToString(CultureInfo.InvariantCulture);
        env[DistributedSettings.WorldSizeVariable] = processes.ToString(CultureInfo.InvariantCulture);
        env[DistributedSettings.MasterAddrVariable] = "127.0.0.1";
        env[DistributedSettings.MasterPortVariable] = port.ToString(CultureInfo.InvariantCulture);
        env[Pipeline.Vision.TorchThreads.Variable] = threads.ToString(CultureInfo.InvariantCulture);
        env[OutputVariable] = Path.GetFullPath(output);
        env[LauncherPidVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var process = new Process { StartInfo = psi };
        if (redirect)
        {
            var (outWriter, errWriter, prefix) = rank == 0 ? (stdout, stderr, "") : (stderr, stderr, $"[rank {rank}] ");
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) Write(outWriter, prefix + e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Write(errWriter, prefix + e.Data); };
        }
        process.Start();
        if (redirect)
        {
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }
        return process;
    }

    private void Write(TextWriter writer, string line)
    {
        lock (writeGate)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }

    /// <summary>Exits this rank when its launcher is gone (killed without the chance to stop the ranks).</summary>
    public static void ExitWithLauncher(int launcherPid)
    {
        var thread = new Thread(() =>
        {
            while (Directory.Exists($"/proc/{launcherPid}")) Thread.Sleep(1000);
            Console.Error.WriteLine($"error: the launcher (pid {launcherPid}) is gone; stopping");
            // At once: an orderly exit would tear libtorch down under the training thread.
            using var self = Process.GetCurrentProcess();
            self.Kill();
        })
        { IsBackground = true, Name = "launcher watch" };
        thread.Start();
    }

    // The muxer that runs this process (tests run under it too); the `pipeline` apphost is not on every path.
    private static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }

    private static void KillQuietly(Process p)
    {
        try
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // exited meanwhile
        }
    }

    private const int SIGTERM = 15;

    // SIGTERM, not SIGINT: a launcher started in the background of a script passes SIGINT on as ignored (the shell's
    // rule for background jobs), so ranks would not hear it; a rank stops at the same step on either signal.
    private static int Interrupt(int pid) => OperatingSystem.IsWindows() ? -1 : Kill(pid, SIGTERM);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
