namespace Pipeline.Training;

/// <summary>The (channels, height, width) a model was trained on, as the predictors take it from the prepared data.</summary>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    public static ImageShape Of(IReadOnlyList<int> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Count != 3) throw new ArgumentException($"the image shape must be (channels, height, width), got {shape.Count} values", nameof(shape));
        return new ImageShape(shape[0], shape[1], shape[2]);
    }
}
