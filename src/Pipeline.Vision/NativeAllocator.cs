using System.Runtime.InteropServices;

namespace Pipeline.Vision;

/// <summary>
/// The C allocator under libtorch. glibc's malloc, left to itself, hands freed activation buffers back to the kernel
/// and fragments on libtorch's 64-byte-aligned blocks, so every step page-faults its buffers in again and resident
/// memory drifts (measured: +22% over 2,000 small-CNN steps, and swings of ±10%). jemalloc told never to purge
/// (<c>dirty_decay_ms:-1</c>) keeps a step's pages for the next one: resident memory is flat once warm, and lower.
/// jemalloc can only be chosen when a process starts, so <see cref="Use"/> re-executes the process with it preloaded
/// (same PID, arguments and environment); where it is not installed glibc is tuned in-process instead.
/// </summary>
public static partial class NativeAllocator
{
    /// <summary>Debian's libjemalloc2 (<c>infra/provision.sh</c> installs it).</summary>
    public const string JemallocPath = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

    /// <summary>Never return freed pages to the kernel: the next step needs them again.</summary>
    public const string JemallocConfig = "dirty_decay_ms:-1,muzzy_decay_ms:-1";

    /// <summary><c>PIPELINE_ALLOCATOR=glibc</c> keeps glibc (tuned) even where jemalloc is installed.</summary>
    public const string ChoiceVariable = "PIPELINE_ALLOCATOR";

    // Set in the re-executed process, so that a preload that did not take cannot loop.
    private const string ExecutedVariable = "PIPELINE_ALLOCATOR_EXECUTED";

    /// <summary>glibc refuses mmap thresholds above half its heap size: 32 MiB on 64-bit.</summary>
    public const int GlibcMmapThreshold = 32 << 20;

    /// <summary>Freed memory at the heap's top is kept up to this (so a step's peak stays resident).</summary>
    public const int GlibcTrimThreshold = 1 << 30;

    /// <summary>Each heap growth takes this much extra, so growing the heap is rare.</summary>
    public const int GlibcTopPad = 64 << 20;

    private const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;
    private static int glibcTuned;

    /// <summary>The allocator this process runs on: <c>jemalloc</c> or <c>glibc</c>.</summary>
    public static string Current => OperatingSystem.IsLinux() && JemallocLoaded() ? "jemalloc" : "glibc";

    /// <summary>
    /// Call first thing in <c>Main</c> of a process that trains or infers (before it prints or starts work): re-executes
    /// it under jemalloc when that is installed and not yet loaded, else tunes glibc. Returns only in the final process.
    /// </summary>
    public static void Use()
    {
        if (!OperatingSystem.IsLinux() || JemallocLoaded()) return;
        var wanted = !string.Equals(Environment.GetEnvironmentVariable(ChoiceVariable), "glibc", StringComparison.OrdinalIgnoreCase);
        if (wanted && File.Exists(JemallocPath) && Environment.GetEnvironmentVariable(ExecutedVariable) is null) ExecuteWithJemalloc();
        TuneGlibc();
    }

    /// <summary>glibc's settings (DESIGN.md): buffers up to 32 MiB from the heap, which is neither trimmed nor returned.</summary>
    /// <exception cref="InvalidOperationException">glibc refused a setting.</exception>
    public static void TuneGlibc()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref glibcTuned, 1) == 1) return;
        Set(M_MMAP_THRESHOLD, GlibcMmapThreshold, "M_MMAP_THRESHOLD");
        Set(M_TRIM_THRESHOLD, GlibcTrimThreshold, "M_TRIM_THRESHOLD");
        Set(M_TOP_PAD, GlibcTopPad, "M_TOP_PAD");
    }

    /// <summary>The environment that preloads jemalloc as <see cref="Use"/> does, for processes started by others.</summary>
    public static IReadOnlyDictionary<string, string> JemallocEnvironment(string? existingPreload) => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["LD_PRELOAD"] = string.IsNullOrEmpty(existingPreload) ? JemallocPath : $"{JemallocPath}:{existingPreload}",
        ["MALLOC_CONF"] = JemallocConfig,
    };

    private static bool JemallocLoaded()
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
            if (line.Contains("libjemalloc", StringComparison.Ordinal)) return true;
        return false;
    }

    private static void ExecuteWithJemalloc()
    {
        var argv = File.ReadAllText("/proc/self/cmdline").Split('\0');
        if (argv.Length > 0 && argv[^1].Length == 0) argv = argv[..^1];
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables()) environment[(string)e.Key] = (string?)e.Value ?? "";
        foreach (var (k, v) in JemallocEnvironment(Environment.GetEnvironmentVariable("LD_PRELOAD"))) environment[k] = v;
        environment[ExecutedVariable] = "1";
        var args = ToNative(argv);
        var env = ToNative([.. environment.Select(e => $"{e.Key}={e.Value}")]);
        // Returns only on failure (the process image is replaced otherwise); glibc is tuned instead.
        _ = execve("/proc/self/exe", args, env);
        foreach (var p in args.Concat(env)) Marshal.FreeCoTaskMem(p);
    }

    private static IntPtr[] ToNative(string[] values) => [.. values.Select(Marshal.StringToCoTaskMemUTF8), IntPtr.Zero];

    private static void Set(int parameter, int value, string name)
    {
        if (mallopt(parameter, value) != 1) throw new InvalidOperationException($"glibc mallopt refused {name}={value}");
    }

    [LibraryImport("libc")]
    private static partial int mallopt(int parameter, int value);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int execve(string path, IntPtr[] argv, IntPtr[] envp);
}
