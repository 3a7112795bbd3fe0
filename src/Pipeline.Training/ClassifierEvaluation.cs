using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Training.Data;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Models;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// Evaluates a classifier the way its recipe trained it (same input normalisation and size, no augmentation): used
/// after every epoch by the trainer and by the evaluator service on checkpoints and the best model.
/// </summary>
public static class ClassifierEvaluation
{
    /// <summary>Runs the model over <paramref name="order"/> (a rank's shard, or everything) and returns the counts.</summary>
    public static ClassificationEvaluator Run(nn.Module<Tensor, Tensor> model, ImageBatcher batches, long[] order, int batchSize, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(order);
        var evaluator = new ClassificationEvaluator(classes, 1, Math.Min(5, classes.Count));
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            for (var start = 0; start < order.Length; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var indices = order.AsSpan(start, Math.Min(batchSize, order.Length - start));
                var (images, labels) = batches.Batch(indices);
                // In fp32 always: bf16 training keeps fp32 master weights, and they are what is evaluated.
                var logits = model.call(images).to(float32);
                var lossSum = nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).ToDouble();
                evaluator.Update(logits, labels, lossSum);
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return evaluator;
    }

    /// <summary>Evaluates <paramref name="model"/> on the whole of <paramref name="dataset"/>.</summary>
    public static ClassificationReport Evaluate(Recipe recipe, nn.Module<Tensor, Tensor> model, TensorDataset dataset, Device device)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(dataset);
        var batches = new ImageBatcher(dataset, recipe.Input, device);
        var order = new SequentialSampler(dataset.Count).Order(0);
        return Run(model, batches, order, recipe.BatchSize, dataset.Classes).Report();
    }

    /// <summary>Builds the recipe's model for <paramref name="dataset"/>'s shape and classes and loads the weights file.</summary>
    public static nn.Module<Tensor, Tensor> LoadModel(Recipe recipe, TensorDataset dataset, string weightsFile, Device device)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return LoadModel(recipe, dataset.Images.shape[1], dataset.Classes.Count, weightsFile, device);
    }

    /// <summary>Builds the recipe's model for images of <paramref name="channels"/> channels (the model takes
    /// <c>input.channels</c> when the recipe sets it) and <paramref name="classes"/> classes and loads the weights file.</summary>
    public static nn.Module<Tensor, Tensor> LoadModel(Recipe recipe, long channels, long classes, string weightsFile, Device device)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        var model = ModelRegistry.Create(recipe.Model.Name, new ModelSpec(ImageBatcher.ModelChannels(recipe.Input, channels), classes, recipe.Model.Width));
        try
        {
            using (var scope = NewDisposeScope())
                model.LoadStateDict(SafeTensors.Load(weightsFile));
            model.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
