using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Vision.Tests.Support;

/// <summary>
/// Runs a reference script of <c>Reference/</c> under Debian's PyTorch and torchvision (<c>/usr/bin/python3</c>) with an
/// output folder, and returns that folder. Folders are kept in the temp directory keyed by the scripts' content and the
/// arguments, so a rerun of the tests (or a second test using the same reference) pays for Python once.
/// </summary>
public static class TorchvisionReference
{
    public const string Python = "/usr/bin/python3";
    private static readonly Lock Gate = new();

    public static string ReferenceDir => Path.Combine(AppContext.BaseDirectory, "Reference");

    public static string Run(string script, params string[] args)
    {
        lock (Gate)
        {
            var scripts = Directory.GetFiles(ReferenceDir, "*.py").Order(StringComparer.Ordinal).SelectMany(File.ReadAllBytes).ToArray();
            var key = Convert.ToHexString(SHA256.HashData([.. scripts, .. Encoding.UTF8.GetBytes(script + "|" + string.Join("|", args))]))[..16];
            var folder = Path.Combine(Path.GetTempPath(), $"pipeline-tvref-{Path.GetFileNameWithoutExtension(script)}-{key}");
            if (Directory.Exists(folder)) return folder;
            var partial = folder + $".{Environment.ProcessId}.tmp";
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
            Directory.CreateDirectory(partial);
            Execute(Path.Combine(ReferenceDir, script), [partial, .. args]);
            Directory.Move(partial, folder);
            return folder;
        }
    }

    private static void Execute(string scriptPath, string[] args)
    {
        if (!File.Exists(Python))
            throw new InvalidOperationException($"{Python} is missing: run `bash infra/provision.sh` (installs python3-torch and python3-torchvision)");
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ReferenceDir };
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
