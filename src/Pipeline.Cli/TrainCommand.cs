using System.CommandLine;
using Pipeline.Training.Recipes;

namespace Pipeline.Cli;

/// <summary><c>pipeline train &lt;dataset&gt; [--task] [--config] [--epochs] [--output] [--limit] [--resume] [--json] [--key=value ...]</c>.</summary>
public static class TrainCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var dataset = new Argument<string>("dataset") { Description = "Dataset folder (classify: IDX, as Fashion-MNIST; detect: COCO, PaliGemma JSONL or YOLO)" };
        var task = new Option<string>("--task") { Description = "classify or detect (FCOS)", DefaultValueFactory = _ => "classify" };
        var config = new Option<string?>("--config", "-c") { Description = "Recipe file (YAML or JSON; may inherit with _base_)" };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs (overrides the recipe)" };
        var output = new Option<string?>("--output", "-o") { Description = "Run folder (default: runs/<time>)" };
        var limit = new Option<int?>("--limit") { Description = "Use only the first N training and N test images (quick runs)" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the run folder's latest checkpoint" };
        var json = new Option<bool>("--json") { Description = "End with one JSON line of final metrics on stdout; progress goes to stderr" };
        var nproc = new Option<int>("--nproc") { Description = "Training processes (only 1 until data-parallel training lands)", DefaultValueFactory = _ => 1 };
        var command = new Command("train", "Train a model locally and evaluate it; any recipe key can be overridden as --key.sub=value.")
        {
            dataset, task, config, epochs, output, limit, resume, json, nproc,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction((parse, cancellation) =>
        {
            var overrides = new List<string> { $"task={parse.GetValue(task)}" };
            if (parse.GetValue(epochs) is { } n) overrides.Add($"epochs={n}");
            overrides.AddRange(parse.UnmatchedTokens);
            var options = new LocalTrainingOptions(parse.GetValue(dataset)!, parse.GetValue(config), overrides,
                parse.GetValue(output) ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)),
                parse.GetValue(limit), parse.GetValue(resume), parse.GetValue(json));
            if (parse.GetValue(nproc) != 1)
            {
                stderr.WriteLine("error: --nproc other than 1 needs data-parallel training, which has not landed yet");
                return Task.FromResult(2);
            }
            try
            {
                return Task.FromResult(parse.GetValue(task) == "detect"
                    ? new LocalDetectionRun(options, stdout, stderr).Execute(cancellation)
                    : new LocalTrainingRun(options, stdout, stderr).Execute(cancellation));
            }
            catch (Exception e) when (e is RecipeException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Task.FromResult(2);
            }
        });
        return command;
    }
}
