using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Training.Recipes;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// Builds the recipe's optimizer over a model's parameters, in parameter groups: one per configured prefix (its own lr
/// and weight decay) plus the rest, each split into parameters that decay and those that do not (biases and
/// normalisation weights: every parameter of one dimension). Empty groups are left out.
/// </summary>
public static class OptimizerFactory
{
    public static TorchSharp.Modules.OptimizerHelper Create(nn.Module model, OptimizerRecipe recipe)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(recipe);
        var buckets = new List<(double Lr, double WeightDecay, List<Parameter> Params)>();
        var configured = recipe.ParamGroups.Select(g => (g.Prefix, Lr: g.Lr ?? recipe.Lr, Wd: g.WeightDecay ?? recipe.WeightDecay)).ToList();
        configured.Add(("", recipe.Lr, recipe.WeightDecay));
        var decay = configured.Select(c => new List<Parameter>()).ToArray();
        var noDecay = configured.Select(c => new List<Parameter>()).ToArray();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var g = configured.FindIndex(c => name.StartsWith(c.Prefix, StringComparison.Ordinal));
            (recipe.NoDecayOnNormAndBias && parameter.dim() <= 1 ? noDecay : decay)[g].Add(parameter);
        }
        for (var g = 0; g < configured.Count; g++)
        {
            if (decay[g].Count > 0) buckets.Add((configured[g].Lr, configured[g].Wd, decay[g]));
            if (noDecay[g].Count > 0) buckets.Add((configured[g].Lr, 0, noDecay[g]));
        }
        // Each group sets its own lr and weight decay; the optimizer's defaults fill in the rest (momentum, betas...).
        return recipe.Name switch
        {
            OptimizerKind.Sgd => optim.SGD(
                buckets.Select(b => new SGD.ParamGroup(b.Params, new SGD.Options { LearningRate = b.Lr, weight_decay = b.WeightDecay })),
                recipe.Lr, momentum: recipe.Momentum, weight_decay: recipe.WeightDecay, nesterov: recipe.Nesterov && recipe.Momentum > 0),
            OptimizerKind.Adamw => optim.AdamW(
                buckets.Select(b => new AdamW.ParamGroup(b.Params, new AdamW.Options { LearningRate = b.Lr, weight_decay = b.WeightDecay })),
                recipe.Lr, beta1: recipe.Betas[0], beta2: recipe.Betas[1], eps: recipe.Eps, weight_decay: recipe.WeightDecay),
            _ => throw new ArgumentOutOfRangeException(nameof(recipe), recipe.Name, "unknown optimizer"),
        };
    }
}
