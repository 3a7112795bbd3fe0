using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Models;
using Pipeline.Vision.Pretrained;
using Pipeline.Vision.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// A pretrained backbone a recipe names in <c>model.pretrained</c> instead of a file: the model it fits and the input
/// it expects (size, channels, and the per-channel normalisation of pixels in [0, 1], RGB order).
/// </summary>
public sealed record PretrainedBackbone(string Name, string Model, int[] InputSize, int Channels, double[] Mean, double[] Std, string Description);

/// <summary>
/// The named pretrained backbones: <c>imagenet-resnet18</c>, ML.NET's ImageNet ResNet-18 (CNTK 2.6, exported to ONNX
/// opset 8; NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0, MIT), imported from the package's
/// <c>ResNet18.onnx</c> into safetensors for our <c>resnet18_cntk</c>. A recipe's name is resolved to the imported file
/// in a cache folder, imported there on first use.
/// </summary>
public static class PretrainedBackbones
{
    public const string ImagenetResNet18 = "imagenet-resnet18";

    /// <summary>The package's preprocessing (ResNetPreprocess.onnx): RGB to BGR, then the 0-255 pixels minus CNTK's
    /// ImageNet mean image. Our pipeline subtracts that image's per-channel averages (R, G, B below) from 255 x.</summary>
    public static IReadOnlyList<double> ImagenetMeanRgb255 { get; } = [123.1516, 115.9029, 103.0626];

    public static PretrainedBackbone ImagenetResNet18Backbone { get; } = new(
        ImagenetResNet18, "resnet18_cntk", [224, 224], 3,
        [.. ImagenetMeanRgb255.Select(m => m / 255)], [1.0 / 255],
        "ImageNet ResNet-18 from ML.NET's Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0 (CNTK 2.6, ONNX opset 8; MIT)");

    public static IReadOnlyList<PretrainedBackbone> All { get; } = [ImagenetResNet18Backbone];

    public static PretrainedBackbone? Find(string? name) => All.FirstOrDefault(b => b.Name == name);

    /// <summary>The NuGet package's folder, as MSBuild restored it for this assembly (its path property, recorded at build time).</summary>
    public static string PackageFolder =>
        typeof(PretrainedBackbones).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "DnnImageFeaturizerResNet18Package")?.Value
            ?? throw new InvalidOperationException("Pipeline.Training was built without the Microsoft.ML.DnnImageFeaturizer.ResNet18 package path");

    /// <summary>The package's ResNet18.onnx.</summary>
    public static string ImagenetResNet18Onnx => Path.Combine(PackageFolder, "tools", "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    /// <summary>The package's ResNetPreprocess.onnx (what the backbone expects its input to be).</summary>
    public static string ImagenetResNet18Preprocess => Path.Combine(PackageFolder, "tools", "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    /// <summary>Where named backbones are imported on first use: <c>PIPELINE_PRETRAINED_CACHE</c>, else
    /// <c>$XDG_CACHE_HOME/pipeline/pretrained</c>, else <c>~/.cache/pipeline/pretrained</c>.</summary>
    public static string CacheDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("PIPELINE_PRETRAINED_CACHE") is { Length: > 0 } dir) return dir;
            var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(cache, "pipeline", "pretrained");
        }
    }

    /// <summary>
    /// Reads the backbone's ONNX file (by default the package's), checks it against our model and its preprocessing
    /// against <see cref="PretrainedBackbone.Mean"/>, and writes the backbone's weights (no <c>fc</c>) to
    /// <paramref name="output"/> as safetensors: written beside it first and renamed, so a reader never sees half a file.
    /// </summary>
    public static OnnxResNetImport Import(string name, string output, string? onnxFile = null, string? preprocessFile = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        var backbone = Find(name) ?? throw new ArgumentException($"unknown backbone '{name}'; known: {string.Join(", ", All.Select(b => b.Name))}", nameof(name));
        onnxFile ??= ImagenetResNet18Onnx;
        preprocessFile ??= ImagenetResNet18Preprocess;
        foreach (var file in new[] { onnxFile, preprocessFile })
        {
            if (!File.Exists(file))
                throw new FileNotFoundException($"{file}: missing; {backbone.Name} is imported from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0 (restored with Pipeline.Training)", file);
        }
        var preprocess = OnnxResNet.ReadMeanSubtraction(preprocessFile);
        var expected = backbone.Mean.Select(m => m * 255).ToArray();
        if (preprocess.ChannelMeansRgb.Zip(expected).Any(p => Math.Abs(p.First - p.Second) > 0.01))
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{preprocessFile}: its mean image averages R, G, B {string.Join(", ", preprocess.ChannelMeansRgb.Select(m => m.ToString("F4", CultureInfo.InvariantCulture)))}, but {backbone.Name}'s normalisation subtracts {string.Join(", ", expected.Select(m => m.ToString("F4", CultureInfo.InvariantCulture)))}"));

        using var scope = NewDisposeScope();
        using var model = (ResNet)ModelRegistry.Create(backbone.Model, new ModelSpec(3, 1000));
        var import = OnnxResNet.LoadInto(onnxFile, model);
        var state = model.state_dict().Where(kv => !kv.Key.StartsWith("fc.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["backbone"] = backbone.Name,
            ["model"] = backbone.Model,
            ["source"] = backbone.Description,
            ["input"] = string.Create(CultureInfo.InvariantCulture, $"RGB, {backbone.InputSize[0]}x{backbone.InputSize[1]}: 255 x minus R {expected[0]:F4}, G {expected[1]:F4}, B {expected[2]:F4}"),
        };
        var folder = Path.GetDirectoryName(Path.GetFullPath(output))!;
        Directory.CreateDirectory(folder);
        var partial = Path.Combine(folder, $".{Path.GetFileName(output)}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial");
        try
        {
            SafeTensors.Save(partial, state, metadata);
            File.Move(partial, output, overwrite: true);
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
        }
        return import;
    }

    /// <summary>
    /// The weights file a recipe's <c>model.pretrained</c> means: a backbone name gives its imported file in
    /// <paramref name="cacheDirectory"/> (<see cref="CacheDirectory"/> when null), imported there if absent; anything
    /// else is a path, returned as it is. One line on <paramref name="log"/> says which file, and whether it was imported.
    /// </summary>
    public static string Resolve(string nameOrPath, string? cacheDirectory = null, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        if (Find(nameOrPath) is not { } backbone) return nameOrPath;
        var file = Path.Combine(cacheDirectory ?? CacheDirectory, backbone.Name + ".safetensors");
        if (File.Exists(file))
        {
            log?.WriteLine($"pretrained {backbone.Name}: {file}");
            return file;
        }
        log?.WriteLine($"pretrained {backbone.Name}: first use, importing {ImagenetResNet18Onnx} into {file}");
        Import(backbone.Name, file);
        return file;
    }

    /// <summary>
    /// Gives a recipe that names a backbone in <c>model.pretrained</c> the backbone's model and input (channels,
    /// normalisation; size unless the recipe sets one). A key the recipe sets to something else is an error: the
    /// backbone's weights only mean something with its own model and input.
    /// </summary>
    internal static void ApplyTo(Recipe recipe, RecipeDocument document)
    {
        if (Find(recipe.Model.Pretrained) is not { } backbone) return;
        void Refuse(string key, string problem) => throw new RecipeException(document.OriginOf(key), key, problem);
        if (recipe.Task != TaskKind.Classify)
            Refuse("model.pretrained", $"'{backbone.Name}' is a classification backbone; a detection recipe names a safetensors file");
        bool Has(string key) => Lookup(document.Root, key) is not null;

        if (!Has("model.name")) recipe.Model.Name = backbone.Model;
        else if (recipe.Model.Name != backbone.Model)
            Refuse("model.name", $"'{backbone.Name}' is a {backbone.Model} backbone (CNTK's ResNet-18: three blocks in layer4), not {recipe.Model.Name}");
        if (!Has("input.channels")) recipe.Input.Channels = backbone.Channels;
        else if (recipe.Input.Channels != backbone.Channels)
            Refuse("input.channels", $"'{backbone.Name}' takes {backbone.Channels} channels (grey images are repeated on them)");
        if (!Has("input.mean")) recipe.Input.Mean = [.. backbone.Mean];
        else if (!SameValues(recipe.Input.Mean, backbone.Mean))
            Refuse("input.mean", $"'{backbone.Name}' expects [{Format(backbone.Mean)}] (255 x minus its ImageNet mean per channel); leave input.mean out");
        if (!Has("input.std")) recipe.Input.Std = [.. backbone.Std];
        else if (!SameValues(recipe.Input.Std, backbone.Std))
            Refuse("input.std", $"'{backbone.Name}' expects [{Format(backbone.Std)}] (pixels on the 0-255 scale); leave input.std out");
        if (!Has("input.size")) recipe.Input.Size = [.. backbone.InputSize];
    }

    private static JsonNode? Lookup(JsonObject root, string dottedKey)
    {
        JsonNode? node = root;
        foreach (var part in dottedKey.Split('.'))
            node = node is JsonObject map && map.TryGetPropertyValue(part, out var child) ? child : null;
        return node;
    }

    // One value stands for every channel; values are compared to the precision a recipe file writes them with.
    private static bool SameValues(double[] given, double[] expected) =>
        (given.Length == expected.Length || given.Length == 1 || expected.Length == 1)
        && Enumerable.Range(0, Math.Max(given.Length, expected.Length)).All(k => Math.Abs(given[Math.Min(k, given.Length - 1)] - expected[Math.Min(k, expected.Length - 1)]) <= 1e-6);

    private static string Format(double[] values) => string.Join(", ", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
}
