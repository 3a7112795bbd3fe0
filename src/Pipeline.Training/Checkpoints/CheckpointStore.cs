using System.Globalization;
using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Checkpoints;

/// <summary>
/// A folder of checkpoints, one sub-folder per optimizer step (<c>step-00000120/</c>: <c>model.safetensors</c>,
/// <c>optimizer.bin</c> (TorchSharp's optimizer state format), <c>state.json</c>). Each is written into a temporary folder and renamed into place, so
/// a reader never sees half a checkpoint; only the newest <c>keepLast</c> are kept.
/// </summary>
public sealed class CheckpointStore(string folder, int keepLast = 2)
{
    public const string ModelFile = "model.safetensors";
    public const string OptimizerFile = "optimizer.bin";
    public const string StateFile = "state.json";
    /// <summary>The optimizer state of checkpoints written by the engine before TorchSharp (not readable now).</summary>
    private const string LegacyOptimizerFile = "optimizer.safetensors";
    private const string Prefix = "step-";

    public string Folder { get; } = folder;

    /// <summary>Writes a checkpoint and returns its folder.</summary>
    public string Save(nn.Module model, TorchSharp.Modules.OptimizerHelper optimizer, TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(state);
        Directory.CreateDirectory(Folder);
        var name = Prefix + state.Step.ToString("D8", CultureInfo.InvariantCulture);
        var final = Path.Combine(Folder, name);
        var temp = Path.Combine(Folder, $".tmp-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            using (var scope = NewDisposeScope())
                SafeTensors.Save(Path.Combine(temp, ModelFile), model.state_dict());
            optimizer.save_state_dict(Path.Combine(temp, OptimizerFile));
            File.WriteAllText(Path.Combine(temp, StateFile), state.ToJson());
            // The same step saved twice (e.g. end of epoch, then a step limit) replaces the older copy.
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(temp, final);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
        Prune();
        return final;
    }

    /// <summary>The newest complete checkpoint's folder, or null.</summary>
    public string? Latest() => List().LastOrDefault();

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<string> List() =>
        !Directory.Exists(Folder) ? [] :
        [.. Directory.GetDirectories(Folder, Prefix + "*").Where(d => File.Exists(Path.Combine(d, StateFile))).Order(StringComparer.Ordinal)];

    /// <summary>Restores model and optimizer from a checkpoint folder and returns its training state.</summary>
    public static TrainingState Load(string checkpoint, nn.Module model, TorchSharp.Modules.OptimizerHelper optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var statePath = Path.Combine(checkpoint, StateFile);
        if (!File.Exists(statePath)) throw new FileNotFoundException($"{checkpoint} is not a checkpoint: it has no {StateFile}", statePath);
        // Checked before anything is loaded, so a refused checkpoint leaves the model and optimizer as they were.
        var optimizerPath = Path.Combine(checkpoint, OptimizerFile);
        if (!File.Exists(optimizerPath))
            throw new InvalidDataException(File.Exists(Path.Combine(checkpoint, LegacyOptimizerFile))
                ? $"{checkpoint}: written before the engine moved to TorchSharp ({LegacyOptimizerFile}); its optimizer state cannot be resumed: start the run again"
                : $"{checkpoint}: the optimizer state {OptimizerFile} is missing");
        using (var scope = NewDisposeScope())
            model.LoadStateDict(SafeTensors.Load(Path.Combine(checkpoint, ModelFile)));
        optimizer.load_state_dict(optimizerPath);
        return TrainingState.FromJson(File.ReadAllText(statePath));
    }

    private void Prune()
    {
        var all = List();
        for (var k = 0; k < all.Count - keepLast; k++) Directory.Delete(all[k], recursive: true);
    }
}
