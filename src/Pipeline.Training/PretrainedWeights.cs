using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Vision.Models;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>Transfer learning: loads the tensors of a safetensors file whose name and shape match the model's.</summary>
public static class PretrainedWeights
{
    /// <summary>Returns the model keys left as initialised (absent from the file, or of another shape: a new head).</summary>
    /// <param name="path">A safetensors file, or a named backbone (<see cref="PretrainedBackbones"/>: imported into the
    /// cache on first use, which <paramref name="log"/> is told)</param>
    public static IReadOnlyList<string> Load(nn.Module model, string path, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        path = PretrainedBackbones.Resolve(path, log: log);
        using var scope = NewDisposeScope();
        var weights = SafeTensors.Load(path);
        var own = model.state_dict();
        if (model is ResNet resnet)
        {
            // A ResNet's backbone loads whole (a missing or misshapen layer is an error, not a silent re-initialisation)
            // and colour weights fit a grey model's stem; only the head may stay as initialised (another class count).
            resnet.load_state_dict_except_fc(weights);
            weights = weights.Where(w => w.Key.StartsWith("fc.", StringComparison.Ordinal)).ToDictionary(StringComparer.Ordinal);
            own = own.Where(w => w.Key.StartsWith("fc.", StringComparison.Ordinal)).ToDictionary(StringComparer.Ordinal);
        }
        var matching = weights.Where(w => own.TryGetValue(w.Key, out var t) && t.shape.SequenceEqual(w.Value.shape))
            .ToDictionary(w => w.Key, w => w.Value, StringComparer.Ordinal);
        if (matching.Count == 0 && model is not ResNet) throw new InvalidDataException($"{path}: no tensor matches the model's parameter names and shapes");
        model.LoadStateDict(matching, strict: false);
        return [.. own.Keys.Where(k => !matching.ContainsKey(k))];
    }
}
