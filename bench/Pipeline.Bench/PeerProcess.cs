using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Pipeline.Vision;

namespace Pipeline.Bench;

/// <summary>Runs a peer implementation (PyTorch through /usr/bin/python3) and reads its figures.</summary>
internal static class PeerProcess
{
    public const string Python = "/usr/bin/python3";

    /// <summary>The allocator our process runs on (<see cref="NativeAllocator"/>), given to the peer too.</summary>
    public static IReadOnlyDictionary<string, string> AllocatorEnvironment => NativeAllocator.Current == "jemalloc"
        ? NativeAllocator.JemallocEnvironment(null)
        : new Dictionary<string, string>
        {
            ["MALLOC_MMAP_THRESHOLD_"] = NativeAllocator.GlibcMmapThreshold.ToString(CultureInfo.InvariantCulture),
            ["MALLOC_TRIM_THRESHOLD_"] = NativeAllocator.GlibcTrimThreshold.ToString(CultureInfo.InvariantCulture),
            ["MALLOC_TOP_PAD_"] = NativeAllocator.GlibcTopPad.ToString(CultureInfo.InvariantCulture),
        };

    /// <summary>Runs a script under Peers/ and returns the value of <c>key=</c> on its output.</summary>
    public static double RunPython(string script, string key, int threads, params string[] args) =>
        Run(Python, [Path.Combine(AppContext.BaseDirectory, "Peers", script), .. args], [key], threads)[0];

    private static double[] Run(string file, string[] args, string[] keys, int threads)
    {
        var script = Path.GetFileName(args[0]);
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in AllocatorEnvironment) psi.Environment[k] = v;
        psi.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{script} failed ({process.ExitCode}): {stderr.Result}");
        var tokens = stdout.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);
        return [.. keys.Select(key =>
            tokens.FirstOrDefault(t => t.StartsWith(key + "=", StringComparison.Ordinal)) is { } token
                ? double.Parse(token.AsSpan(key.Length + 1), CultureInfo.InvariantCulture)
                : throw new InvalidOperationException($"{script} printed no {key}=: {stdout}"))];
    }

    /// <summary>This process's resident memory in MiB, from /proc/self/status.</summary>
    public static double ResidentMemoryMiB()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return double.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
        throw new InvalidOperationException("VmRSS not found in /proc/self/status");
    }
}
