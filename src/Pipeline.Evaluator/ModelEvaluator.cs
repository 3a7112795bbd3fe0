using Pipeline.Artifacts;
using Pipeline.Torch;
using Pipeline.Training;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Evaluation;

namespace Pipeline.Evaluator;

/// <summary>Evaluates a stored model file of a job on one of its prepared splits.</summary>
public sealed class ModelEvaluator(JobArtifacts artifacts)
{
    // Evaluation uses every core; one at a time per replica.
    private readonly SemaphoreSlim gate = new(1, 1);

    public async Task<ClassificationReport> EvaluateAsync(Guid job, string modelBlob, string split, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var weights = Path.GetTempFileName();
        try
        {
            var info = await artifacts.ReadJobInfoAsync(job, cancellationToken).ConfigureAwait(false);
            var recipe = RecipeLoader.LoadText(info.RecipeYaml, "recipe.yaml");
            await artifacts.DownloadAsync(modelBlob, weights, cancellationToken).ConfigureAwait(false);
            using var data = await artifacts.ReadShardAsync(info.PreparedPrefix, split, cancellationToken).ConfigureAwait(false);
            var device = recipe.Device == "auto" ? (torch.cuda.is_available() ? Device.CUDA() : Device.CPU) : Device.Parse(recipe.Device);
            return await Task.Run(() =>
            {
                using var model = ClassifierEvaluation.LoadModel(recipe, data, weights, device);
                return ClassifierEvaluation.Evaluate(recipe, model, data, device);
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(weights);
            gate.Release();
        }
    }
}
