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

    private static void Execute(string scriptPath, string[] args) => Pipeline.Testing.Python3Script.Run(scriptPath, args);
}
