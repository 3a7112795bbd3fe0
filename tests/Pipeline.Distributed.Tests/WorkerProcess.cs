using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pipeline.Testing;

/// <summary>
/// One rank: the test project's worker executable (the one <c>*.DistributedWorker.dll</c> beside the tests) in its own
/// OS process, its output collected line by line. Shared by the engine's and the training library's distributed tests.
/// </summary>
internal sealed class WorkerProcess : IDisposable
{
    private readonly Process process;
    private readonly ConcurrentQueue<string> stdout = new();
    private readonly ConcurrentQueue<string> stderr = new();

    private WorkerProcess(Process process) => this.process = process;

    public static WorkerProcess Start(params string[] args)
    {
        var workers = Directory.GetFiles(AppContext.BaseDirectory, "*.DistributedWorker.dll");
        if (workers.Length != 1) throw new InvalidOperationException($"expected one *.DistributedWorker.dll in {AppContext.BaseDirectory}, found {workers.Length}");
        var dll = workers[0];
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Two ranks share this 2-core machine: one intra-op thread each.
        psi.Environment["PIPELINE_TORCH_THREADS"] = "1";
        var process = new Process { StartInfo = psi };
        var worker = new WorkerProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) worker.stdout.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) worker.stderr.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    public int Id => process.Id;
    public bool HasExited => process.HasExited;
    public int ExitCode => process.ExitCode;
    public string Stdout => string.Join("\n", stdout);
    public string Stderr => string.Join("\n", stderr);

    /// <summary>The value of the first <c>key=value</c> line.</summary>
    public string Value(string key)
    {
        foreach (var line in stdout)
            if (line.StartsWith(key + "=", StringComparison.Ordinal)) return line[(key.Length + 1)..];
        throw new KeyNotFoundException($"worker {Id} printed no '{key}=' line; stdout:\n{Stdout}\nstderr:\n{Stderr}");
    }

    public bool HasLine(string prefix) => stdout.Any(l => l.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Waits for exit (and for its output to drain); false when it is still running after <paramref name="timeout"/>.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout)) return false;
        process.WaitForExit();
        return true;
    }

    public void Kill() => process.Kill(entireProcessTree: true);

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        process.Dispose();
    }

    /// <summary>A TCP port free right now on 127.0.0.1 (the OS picks it).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>True while a process with this id exists (and is not a zombie).</summary>
    public static bool IsAlive(int pid)
    {
        var status = $"/proc/{pid}/status";
        if (!File.Exists(status)) return false;
        try
        {
            return !File.ReadLines(status).Any(l => l.StartsWith("State:", StringComparison.Ordinal) && l.Contains('Z', StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }
}
