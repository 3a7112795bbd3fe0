using System.Diagnostics;

namespace Pipeline.Vision.Tests.Support;

/// <summary>Runs a Python snippet under /usr/bin/python3 (with Pillow) — the reference the codecs are checked against.</summary>
public static class Pillow
{
    public static string Run(string script, params string[] args)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"python3 failed: {stderr}");
        return stdout.Result;
    }
}
