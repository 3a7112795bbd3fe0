using System.Security.Cryptography;
using Pipeline.Vision.Serialization;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

/// <summary>
/// Runs a reference script under Debian's PyTorch (<c>/usr/bin/python3</c>) and loads the safetensors it
/// writes. Results are cached per script content, so the whole suite pays for Python once.
/// </summary>
public static class PyTorchReference
{
    public const string Python = Pipeline.Testing.Python3Script.Python;
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata)> Cache = [];

    public static string ReferenceDir => Path.Combine(AppContext.BaseDirectory, "Reference");

    /// <summary>Runs <c>Reference/{script}</c> with the output path (then <paramref name="args"/>) and returns what it wrote.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Run(string script, params string[] args)
    {
        var scriptPath = Path.Combine(ReferenceDir, script);
        var key = script + "|" + string.Join("|", args);
        lock (Gate)
        {
            if (Cache.TryGetValue(key, out var cached)) return cached;
            // Keyed by every reference file's content: editing any case file re-runs Python.
            var hash = Convert.ToHexString(SHA256.HashData(Directory.GetFiles(ReferenceDir, "*.py").Order(StringComparer.Ordinal).SelectMany(File.ReadAllBytes).ToArray()))[..16];
            var output = Path.Combine(Path.GetTempPath(), $"pipeline-ref-{Path.GetFileNameWithoutExtension(script)}-{hash}-{Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)))[..8]}.safetensors");
            if (!File.Exists(output)) Execute(scriptPath, [output + ".tmp", .. args], output);
            var tensors = SafeTensors.Load(output, out var meta);
            // The cache owns these for the whole test run, whatever scope the first caller is in.
            foreach (var t in tensors.Values) t.DetachFromDisposeScope();
            Cache[key] = (tensors, meta);
            return Cache[key];
        }
    }

    private static void Execute(string scriptPath, string[] args, string output)
    {
        Pipeline.Testing.Python3Script.Run(scriptPath, args);
        File.Move(args[0], output, overwrite: true);
    }
}
