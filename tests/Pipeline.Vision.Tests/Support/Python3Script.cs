using System.Diagnostics;

namespace Pipeline.Testing;

/// <summary>Runs a reference script under Debian's PyTorch (<c>/usr/bin/python3</c>), one intra-op thread, bounded in
/// time; a failure carries the script's output. Shared by the engine's and the vision library's parity tests.</summary>
public static class Python3Script
{
    public const string Python = "/usr/bin/python3";

    public static void Run(string scriptPath, IEnumerable<string> args)
    {
        ArgumentNullException.ThrowIfNull(scriptPath);
        ArgumentNullException.ThrowIfNull(args);
        if (!File.Exists(Python))
            throw new InvalidOperationException($"{Python} is missing: run `bash infra/provision.sh` (installs python3-torch and python3-torchvision)");
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(scriptPath) };
        psi.ArgumentList.Add(scriptPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {Python}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{scriptPath} did not finish within 5 minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{scriptPath} failed ({process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
    }
}
