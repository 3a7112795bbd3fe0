using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Pipeline.Cli.Client;
using Pipeline.Training;
using Pipeline.Training.Detection;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Export;
using Pipeline.Vision.Data;
using Pipeline.Vision.Serialization;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Pipeline.Cli;

/// <summary>
/// <c>pipeline export &lt;job-id|run-folder&gt; --format onnx|safetensors|pt [--output PATH]</c>: a trained model in a
/// form that runs elsewhere. The model comes from a local run folder (<c>recipe.json</c> and <c>best.safetensors</c>)
/// or from a job of a running system (its <c>job.json</c>, best model and prepared dataset's manifest, downloaded
/// through the API as <c>pipeline download</c> does). The model is rebuilt and its weights loaded strictly before
/// anything is written. An ONNX file is loaded in ONNX Runtime right after it is written and its outputs compared
/// with ours on a random batch; a difference above 1e-4 is an error (exit code 1).
/// </summary>
public static class ExportCommand
{
    public const string RunFolderModel = "best.safetensors";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var source = new Argument<string>("source") { Description = "A job id (the model is downloaded from the running system) or a local run folder of `pipeline train`" };
        var format = new Option<string>("--format") { Description = "onnx, safetensors or pt (PyTorch's state dict, for torch.load)", Required = true };
        format.AcceptOnlyFromAmong("onnx", "safetensors", "pt");
        var output = new Option<string?>("--output", "-o") { Description = "File to write (default: model.<format> in the run folder, or <job-id>.<format> here)" };
        var url = new Option<string?>("--url") { Description = $"The system's API, for a job (default: ${PipelineClient.UrlVariable})" };
        var key = new Option<string?>("--api-key") { Description = $"The API key, for a job (default: ${PipelineClient.KeyVariable})" };
        var command = new Command("export", "Export a trained model as ONNX (checked in ONNX Runtime), safetensors or PyTorch .pt.") { source, format, output, url, key };
        command.SetAction(async (parse, cancellation) =>
        {
            try
            {
                var from = parse.GetValue(source)!;
                var kind = parse.GetValue(format)!;
                using var model = Directory.Exists(from)
                    ? LoadRunFolder(from)
                    : await DownloadJobAsync(from, parse.GetValue(url), parse.GetValue(key), stderr, cancellation).ConfigureAwait(false);
                var target = Path.GetFullPath(parse.GetValue(output) ?? (Directory.Exists(from) ? Path.Combine(from, $"model.{kind}") : $"{from}.{kind}"));
                if (Path.GetDirectoryName(target) is { } parent) Directory.CreateDirectory(parent);
                return Write(model, kind, target, stdout);
            }
            catch (OnnxMismatchException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 1;
            }
            catch (PipelineApiException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return e.Status is null ? 2 : 1;
            }
            catch (Exception e) when (e is RecipeException or InvalidDataException or NotSupportedException or FileNotFoundException or DirectoryNotFoundException
                or IOException or UnauthorizedAccessException or ArgumentException or JsonException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>A model rebuilt for export: the module (eval mode, CPU), what it was built for, and where it came from.</summary>
    private sealed record ExportModel(nn.Module Module, Recipe Recipe, long Channels, IReadOnlyList<string> Classes, (long H, long W) VerifySize, string Source) : IDisposable
    {
        public void Dispose() => Module.Dispose();
    }

    private static int Write(ExportModel model, string format, string target, TextWriter stdout)
    {
        var temp = target + ".part";
        switch (format)
        {
            case "onnx":
            {
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["task"] = model.Recipe.Task == TaskKind.Detect ? "detect" : "classify",
                    ["model"] = model.Recipe.Model.Name,
                    ["classes"] = JsonSerializer.Serialize(model.Classes),
                    ["input_mean"] = JsonSerializer.Serialize(model.Recipe.Input.Mean),
                    ["input_std"] = JsonSerializer.Serialize(model.Recipe.Input.Std),
                    ["source"] = model.Source,
                };
                if (model.Recipe.Input.Size is { } size) metadata["input_size"] = JsonSerializer.Serialize(size);
                OnnxExporter.Save(model.Module, model.Channels, target, metadata);
                OnnxComparison comparison;
                using (var scope = NewDisposeScope())
                {
                    var batch = randn(2, model.Channels, model.VerifySize.H, model.VerifySize.W);
                    try
                    {
                        comparison = OnnxVerification.Verify(target, model.Module, batch);
                    }
                    catch
                    {
                        // A file that does not compute what our model does is not left behind.
                        File.Delete(target);
                        throw;
                    }
                }
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {target} (ONNX opset {OnnxExporter.Opset}, {new FileInfo(target).Length} bytes); ONNX Runtime gives our outputs within {comparison.MaxAbsDiff:E1} (max |diff| over {comparison.PerOutput.Count} output(s), random batch 2x{model.Channels}x{model.VerifySize.H}x{model.VerifySize.W})"));
                return 0;
            }
            case "safetensors":
                SafeTensors.Save(temp, model.Module.state_dict(), new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["model"] = model.Recipe.Model.Name,
                    ["classes"] = JsonSerializer.Serialize(model.Classes),
                });
                break;
            case "pt":
                // TorchSharp.PyBridge writes PyTorch's pickled state dict: torch.load gives the same names and values.
                model.Module.save_py(temp);
                break;
            default:
                throw new ArgumentException($"--format {format}: expected onnx, safetensors or pt");
        }
        File.Move(temp, target, overwrite: true);
        stdout.WriteLine($"wrote {target} ({format}, {new FileInfo(target).Length} bytes)");
        return 0;
    }

    /// <summary>A local run folder: its resolved recipe and best model; classes and input channels come from the weights
    /// (their names from evaluation.json when it lists them).</summary>
    private static ExportModel LoadRunFolder(string folder)
    {
        var recipeFile = Path.Combine(folder, LocalRunFolder.RecipeFile);
        var weights = Path.Combine(folder, RunFolderModel);
        if (!File.Exists(recipeFile)) throw new FileNotFoundException($"{folder}: no {LocalRunFolder.RecipeFile}: not a run folder of `pipeline train`", recipeFile);
        if (!File.Exists(weights)) throw new FileNotFoundException($"{folder}: no {RunFolderModel}: the run has not finished an epoch", weights);
        var text = File.ReadAllText(recipeFile);
        var task = RecipeLoader.DeclaredTask(text, recipeFile) ?? "classify";
        var recipe = TaskRecipes.LoadText(task, text, recipeFile);
        var (channels, classCount) = ShapeOfWeights(weights, task);
        var names = ClassNames(Path.Combine(folder, LocalRunFolder.EvaluationFile), classCount);
        return Build(recipe, channels, names, weights, imageSize: null, Path.GetFullPath(folder));
    }

    /// <summary>A job's model through the system's API: job.json (task, classes, recipe), the prepared dataset's manifest
    /// (input shape) and model/best.safetensors.</summary>
    private static async Task<ExportModel> DownloadJobAsync(string job, string? url, string? key, TextWriter stderr, CancellationToken cancellation)
    {
        if (!Guid.TryParse(job, out _))
            throw new PipelineApiException($"'{job}' is neither a run folder nor a job id (a GUID, as `pipeline jobs` lists them)");
        using var client = PipelineClient.FromSettings(url, key);
        var folder = Directory.CreateTempSubdirectory("pipeline-export-").FullName;
        try
        {
            var info = Path.Combine(folder, "job.json");
            var manifest = Path.Combine(folder, "manifest.json");
            var weights = Path.Combine(folder, RunFolderModel);
            await client.DownloadAsync(job, "job.json", info, cancellation).ConfigureAwait(false);
            await client.DownloadAsync(job, "dataset/prepared/manifest.json", manifest, cancellation).ConfigureAwait(false);
            stderr.WriteLine($"downloading job {job}'s best model");
            await client.DownloadAsync(job, "model/best.safetensors", weights, cancellation).ConfigureAwait(false);
            var jobInfo = JsonSerializer.Deserialize<JobInfo>(File.ReadAllText(info), Web) ?? throw new InvalidDataException($"job {job}: job.json is empty");
            if (jobInfo.Task is not ("classify" or "detect")) throw new InvalidDataException($"job {job}: job.json names the task '{jobInfo.Task}'");
            var recipe = TaskRecipes.LoadText(jobInfo.Task, jobInfo.RecipeYaml, $"job {job}'s recipe");
            var shape = JsonSerializer.Deserialize<PreparedShape>(File.ReadAllText(manifest), Web)?.ImageShape;
            if (shape is not { Length: 3 }) throw new InvalidDataException($"job {job}: the prepared dataset's manifest.json has no imageShape of (channels, height, width)");
            return Build(recipe, shape[0], jobInfo.Classes, weights, (shape[1], shape[2]), $"job {job}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private sealed record JobInfo(string Task, IReadOnlyList<string> Classes, string? RecipeYaml);

    private sealed record PreparedShape(int[]? ImageShape);

    private static ExportModel Build(Recipe recipe, long channels, IReadOnlyList<string> classes, string weights, (int H, int W)? imageSize, string source)
    {
        nn.Module module = recipe.Task == TaskKind.Detect
            ? DetectionEvaluation.LoadModel(recipe, classes.Count, channels, weights, CPU)
            : ClassifierEvaluation.LoadModel(recipe, channels, classes.Count, weights, CPU);
        module.eval();
        // The check's batch has the size the model was trained at; a classifier with no fixed size takes 32x32 (any size runs).
        var size = recipe.Input.Size is [var h, var w] ? (h, w) : imageSize ?? (32, 32);
        return new ExportModel(module, recipe, channels, classes, size, source);
    }

    /// <summary>Input channels and classes from the weights: the stem convolution's input and the head's output.</summary>
    private static (long Channels, int Classes) ShapeOfWeights(string weights, string task)
    {
        using var scope = NewDisposeScope();
        var state = SafeTensors.Load(weights);
        string[] stems = task == "detect" ? ["backbone.body.conv1.weight"] : ["conv1.weight", "features.0.0.weight"];
        string[] heads = task == "detect" ? ["head.classification_head.cls_logits.weight"] : ["fc.weight", "head.1.weight"];
        var stem = stems.Select(k => state.GetValueOrDefault(k)).FirstOrDefault(t => t is not null)
            ?? throw new InvalidDataException($"{weights}: no stem convolution ({string.Join(" or ", stems)}) to read the input channels from");
        var head = heads.Select(k => state.GetValueOrDefault(k)).FirstOrDefault(t => t is not null)
            ?? throw new InvalidDataException($"{weights}: no head ({string.Join(" or ", heads)}) to read the class count from");
        return (stem.shape[1], checked((int)head.shape[0]));
    }

    /// <summary>The class names evaluation.json lists, when it lists as many as the model has; else class_0, class_1, ...</summary>
    private static IReadOnlyList<string> ClassNames(string evaluation, int count)
    {
        if (File.Exists(evaluation))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(evaluation));
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("classes", out var classes) && classes.ValueKind == JsonValueKind.Array
                && classes.GetArrayLength() == count && classes.EnumerateArray().All(c => c.ValueKind == JsonValueKind.String))
                return [.. classes.EnumerateArray().Select(c => c.GetString()!)];
        }
        return [.. Enumerable.Range(0, count).Select(k => $"class_{k}")];
    }
}
