using Microsoft.Extensions.Configuration;

namespace Pipeline.ServiceDefaults;

/// <summary>
/// What one prediction request may cost (the evaluator, and ingest's proxy to it, which refuses the same bodies): the body's bytes (<c>PIPELINE_MAX_PREDICT_BYTES</c>, default
/// 32 MiB) and the image's pixels as its header declares them (<c>PIPELINE_MAX_PREDICT_PIXELS</c>, default 40
/// megapixels): a 0.5 MB PNG can declare 13000x13000 pixels, half a gigabyte decoded.
/// </summary>
public sealed record PredictionLimits(long MaxBytes, long MaxPixels)
{
    public const string BytesVariable = "PIPELINE_MAX_PREDICT_BYTES";
    public const string PixelsVariable = "PIPELINE_MAX_PREDICT_PIXELS";
    public const long DefaultMaxBytes = 32L << 20;
    public const long DefaultMaxPixels = 40_000_000;

    public static PredictionLimits From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return new(Positive(configuration, BytesVariable, DefaultMaxBytes), Positive(configuration, PixelsVariable, DefaultMaxPixels));
    }

    private static long Positive(IConfiguration configuration, string name, long fallback)
    {
        var text = configuration[name];
        if (string.IsNullOrWhiteSpace(text)) return fallback;
        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new InvalidOperationException($"{name} must be a positive whole number, got '{text}'");
    }
}
