using System.Diagnostics;

namespace Pipeline.AppHost.Tests;

/// <summary>Runs the built AppHost as a command (its publish modes) and returns what it printed; a failure shows both streams.</summary>
internal static class AppHostCommand
{
    public static async Task<string> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AppHost.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(limit.Token);
        Assert.True(process.ExitCode == 0, $"{stdout}\n{await stderr}");
        return stdout;
    }
}
