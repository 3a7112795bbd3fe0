using System.Diagnostics;

namespace Pipeline.Tests.Support;

/// <summary>The tests' reference scripts (the test output's <c>Reference/</c> folder) run by Debian's PyTorch.</summary>
public static class ReferencePython
{
    /// <summary>Runs <paramref name="script"/> with one intra-op thread and returns the value of its <c>max_abs_diff=</c> line.</summary>
    public static string MaxAbsDiff(string script, params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = Path.Combine(AppContext.BaseDirectory, "Reference") };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Reference", script));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), $"{script} did not finish");
        Assert.True(process.ExitCode == 0, $"{script} failed ({process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        var line = stdout.Result.Split('\n').Single(l => l.StartsWith("max_abs_diff=", StringComparison.Ordinal));
        return line["max_abs_diff=".Length..].Trim();
    }
}
