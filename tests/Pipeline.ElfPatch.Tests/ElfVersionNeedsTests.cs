using System.Diagnostics;
using System.Reflection;

namespace Pipeline.ElfPatch.Tests;

public sealed class ElfVersionNeedsTests
{
    private const string Version = "GLIBCXX_3.4.32";

    private static string PackageLibrary =>
        typeof(ElfVersionNeedsTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "LibTorchSharpInPackage").Value!;

    private static byte[] Original()
    {
        Assert.True(File.Exists(PackageLibrary), $"TorchSharp's library is not in the NuGet cache: {PackageLibrary}");
        return File.ReadAllBytes(PackageLibrary);
    }

    [Fact]
    public void The_package_library_needs_GLIBCXX_3_4_32_from_libstdcxx_strongly()
    {
        var needs = ElfVersionNeeds.Read(Original());
        var need = Assert.Single(needs, n => n.Version == Version);
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.False(need.IsWeak);
        // readelf -V lists 28 needs across 5 libraries for 0.107.0.
        Assert.Equal(28, needs.Count);
        Assert.Equal(5, needs.Select(n => n.File).Distinct().Count());
        Assert.Contains(needs, n => n.File == "libc.so.6" && n.Version == "GLIBC_2.34");
    }

    [Fact]
    public void Weakening_sets_only_that_need_s_weak_flag_and_changes_no_other_byte()
    {
        var original = Original();
        var patched = (byte[])original.Clone();

        Assert.Equal(WeakenResult.Weakened, ElfVersionNeeds.Weaken(patched, Version));

        var before = ElfVersionNeeds.Read(original);
        var after = ElfVersionNeeds.Read(patched);
        Assert.Equal(before.Count, after.Count);
        for (var i = 0; i < before.Count; i++)
        {
            var expected = before[i].Version == Version ? before[i] with { Flags = (ushort)(before[i].Flags | ElfVersionNeeds.Weak) } : before[i];
            Assert.Equal(expected, after[i]);
        }
        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToList();
        var flagsAt = before.Single(n => n.Version == Version).FlagsOffset;
        Assert.Equal([flagsAt], changed.Select(i => (long)i));
        Assert.Equal(ElfVersionNeeds.Weak, patched[flagsAt]);
    }

    [Fact]
    public void Weakening_a_weakened_image_is_a_no_op()
    {
        var once = Original();
        ElfVersionNeeds.Weaken(once, Version);
        var twice = (byte[])once.Clone();

        Assert.Equal(WeakenResult.AlreadyWeak, ElfVersionNeeds.Weaken(twice, Version));
        Assert.Equal(once, twice);
    }

    [Fact]
    public void A_version_the_image_does_not_need_or_a_file_that_is_not_ELF_is_refused()
    {
        var image = Original();
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Weaken(image, "GLIBCXX_9.9.9"));
        Assert.Contains("GLIBCXX_3.4.30", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read("#!/bin/sh\necho not elf\n"u8.ToArray().Concat(new byte[64]).ToArray()));
        // Cut short: the section headers point past the end.
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(image.AsSpan(0, 4096)));
    }

    [Fact]
    public void The_tool_writes_a_patched_copy_that_the_loader_accepts_and_leaves_an_up_to_date_copy_alone()
    {
        var folder = Directory.CreateTempSubdirectory("pipeline-elfpatch-").FullName;
        try
        {
            var output = Path.Combine(folder, "libLibTorchSharp.so");
            var first = RunTool(PackageLibrary, output);
            Assert.Contains("marked weak", first, StringComparison.Ordinal);
            var written = File.GetLastWriteTimeUtc(output);
            Assert.True(ElfVersionNeeds.Read(File.ReadAllBytes(output)).Single(n => n.Version == Version).IsWeak);
            if (!OperatingSystem.IsWindows()) Assert.Equal(File.GetUnixFileMode(PackageLibrary), File.GetUnixFileMode(output));

            var second = RunTool(PackageLibrary, output);
            Assert.Contains("up to date", second, StringComparison.Ordinal);
            Assert.Equal(written, File.GetLastWriteTimeUtc(output));

            // Patching the patched file: nothing to do.
            var third = RunTool(output, Path.Combine(folder, "again.so"));
            Assert.Contains("was weak already", third, StringComparison.Ordinal);
            Assert.Equal(File.ReadAllBytes(output), File.ReadAllBytes(Path.Combine(folder, "again.so")));

            // The dynamic loader's own verdict (ldd is verbose about weak needs): on Debian 12's libstdc++ the
            // original's need is an error, the copy's only a note.
            Assert.Contains(": version `GLIBCXX_3.4.32' not found", Run("ldd", PackageLibrary).Output, StringComparison.Ordinal);
            var copy = Run("ldd", output).Output;
            Assert.Contains(": weak version `GLIBCXX_3.4.32' not found", copy, StringComparison.Ordinal);
            Assert.DoesNotContain(": version `GLIBCXX_3.4.32'", copy, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string RunTool(string input, string output)
    {
        var tool = Path.Combine(AppContext.BaseDirectory, "Pipeline.ElfPatch.dll");
        var (code, text) = Run("dotnet", tool, "weaken-version-need", input, output, Version);
        Assert.True(code == 0, text);
        return text;
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
