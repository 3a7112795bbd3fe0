namespace Pipeline.Vision.Imaging;

/// <summary>The channels a decoder produces.</summary>
public enum ColorMode
{
    /// <summary>Gray stays gray (1), images with alpha become RGBA (4), everything else RGB (3).</summary>
    Original,
    Gray,
    Rgb,
    Rgba,
}
