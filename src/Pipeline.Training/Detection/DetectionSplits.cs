using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;

namespace Pipeline.Training.Detection;

/// <summary>
/// A detection dataset's splits decoded as a detect recipe trains on them: given splits are kept and missing ones are
/// carved from the training images (seeded by the recipe, stratified by each image's first box), and every image is
/// fitted to <c>input.size</c> as <c>detection.fit</c> says, its boxes along. What the local run (<c>pipeline train
/// --task detect</c>) and the preprocess service both prepare.
/// </summary>
public sealed class DetectionSplits : IDisposable
{
    private DetectionSplits(DetectionTensorDataset train, DetectionTensorDataset validation, DetectionTensorDataset? test) =>
        (Train, Validation, Test) = (train, validation, test);

    public DetectionTensorDataset Train { get; }
    public DetectionTensorDataset Validation { get; }
    /// <summary>The test split; null when the dataset gives none and none was to be carved.</summary>
    public DetectionTensorDataset? Test { get; }

    /// <summary>Decodes the splits of <paramref name="dataset"/> (read from <paramref name="source"/>).</summary>
    /// <param name="name">Names the dataset in errors.</param>
    /// <param name="carveTest">Carve a test split (<c>data.test_fraction</c>) when none is given; false leaves it missing.</param>
    public static DetectionSplits Decode(Dataset dataset, IFileSource source, Recipe recipe, string name, bool carveTest)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(recipe);
        if (dataset.Task != TaskKind.Detect)
            throw new InvalidDataException($"{name}: a {dataset.Format} {dataset.Task.ToString().ToLowerInvariant()} dataset, not a detection one");
        if (recipe.Input.Size is not [var height, var width]) throw new RecipeException("recipe", "input.size", "detection needs [height, width]");
        var split = DatasetSplitter.CompleteSplits(dataset, recipe.Data.ValidationFraction, carveTest ? recipe.Data.TestFraction : 0, recipe.Seed);
        var hasTest = split.InSplit(DatasetSplit.Test).Any();
        foreach (var (part, needed) in new[] { (DatasetSplit.Train, true), (DatasetSplit.Val, true), (DatasetSplit.Test, carveTest) })
        {
            if (needed && !split.InSplit(part).Any())
                throw new InvalidDataException($"{name}: the {part.ToString().ToLowerInvariant()} split is empty ({dataset.Items.Count} usable images in all); the dataset is too small for the recipe's validation and test fractions");
        }
        DetectionTensorDataset Decode(DatasetSplit part) => DetectionTensors.ToTensorDataset(split, source, part, height, width, recipe.Detection.Fit);
        DetectionTensorDataset? train = null, validation = null;
        try
        {
            train = Decode(DatasetSplit.Train);
            validation = Decode(DatasetSplit.Val);
            return new DetectionSplits(train, validation, hasTest ? Decode(DatasetSplit.Test) : null);
        }
        catch
        {
            train?.Dispose();
            validation?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
        Test?.Dispose();
    }
}
