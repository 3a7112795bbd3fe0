using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Imaging;

namespace Pipeline.Training.Data;

/// <summary>
/// The train, validation and test sets of a validated classification dataset, decoded as the recipe says: the given
/// splits kept, the missing ones carved per class (<c>data.validation_fraction</c>, <c>data.test_fraction</c>, seeded),
/// every image resized to <see cref="InputSize"/>. Preprocess writes these as its shards and <c>pipeline train</c> trains
/// on them, so both see the same images.
/// </summary>
public sealed class ClassificationSplits : IDisposable
{
    /// <summary>Bounds on the side chosen when neither the recipe nor the dataset fixes one input size.</summary>
    public const int MinDefaultSide = 32, MaxDefaultSide = 224;

    private ClassificationSplits(TensorDataset train, TensorDataset validation, TensorDataset? test) =>
        (Train, Validation, Test) = (train, validation, test);

    public TensorDataset Train { get; }
    public TensorDataset Validation { get; }
    /// <summary>The test split; null when the dataset gives none and none was to be carved.</summary>
    public TensorDataset? Test { get; }

    /// <summary>Decodes the splits of <paramref name="dataset"/> (read from <paramref name="source"/>).</summary>
    /// <param name="name">Names the dataset in errors.</param>
    /// <param name="carveTest">Carve a test split (<c>data.test_fraction</c>) when none is given; false leaves it missing.</param>
    public static ClassificationSplits Decode(Dataset dataset, IFileSource source, Recipe recipe, string name, bool carveTest)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(recipe);
        if (dataset.Task != TaskKind.Classify)
            throw new InvalidDataException($"{name}: a {dataset.Format} {dataset.Task.ToString().ToLowerInvariant()} dataset, not a classification one");
        var split = DatasetSplitter.CompleteSplits(dataset, recipe.Data.ValidationFraction, carveTest ? recipe.Data.TestFraction : 0, recipe.Seed);
        foreach (var (part, needed) in new[] { (DatasetSplit.Train, true), (DatasetSplit.Val, true), (DatasetSplit.Test, carveTest) })
        {
            if (needed && !split.InSplit(part).Any())
                throw new InvalidDataException($"{name}: the {part.ToString().ToLowerInvariant()} split is empty ({dataset.Items.Count} usable images in all); the dataset is too small for the recipe's validation and test fractions");
        }
        var (height, width) = InputSize(recipe.Input.Size, split);
        // Inline gray pixels (IDX) stay one channel; image files are trained as RGB.
        var mode = split.Items.All(i => i.Pixels is { Channels: 1 }) ? ColorMode.Gray : ColorMode.Rgb;
        TensorDataset Decode(DatasetSplit part) => DatasetTensors.ToTensorDataset(split, source, part, height, width, mode);
        TensorDataset? train = null, validation = null;
        try
        {
            train = Decode(DatasetSplit.Train);
            validation = Decode(DatasetSplit.Val);
            return new ClassificationSplits(train, validation, split.InSplit(DatasetSplit.Test).Any() ? Decode(DatasetSplit.Test) : null);
        }
        catch
        {
            train?.Dispose();
            validation?.Dispose();
            throw;
        }
    }

    /// <summary>The recipe's size, else the images' own when they all share one, else their median side within bounds.</summary>
    public static (int Height, int Width) InputSize(int[]? recipeSize, Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (recipeSize is [var h, var w]) return (h, w);
        var sizes = dataset.Items.Select(i => i.Pixels is { } p ? (p.Width, p.Height) : i.Size).OfType<(int Width, int Height)>().ToList();
        if (sizes.Count == 0) throw new InvalidDataException($"{dataset.Source}: no image sizes are known; set input.size in the recipe");
        if (sizes.All(s => s == sizes[0])) return (sizes[0].Height, sizes[0].Width);
        var sides = sizes.Select(s => Math.Min(s.Width, s.Height)).Order().ToList();
        var side = Math.Clamp(sides[sides.Count / 2], MinDefaultSide, MaxDefaultSide);
        return (side, side);
    }

    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
        Test?.Dispose();
    }
}
