using Pipeline.Vision.Imaging;

namespace Pipeline.Vision.Plotting;

/// <summary>An opaque 8-bit colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    public static readonly Rgb White = new(255, 255, 255);
    public static readonly Rgb Black = new(0, 0, 0);
    public static readonly Rgb Gray = new(128, 128, 128);
    public static readonly Rgb LightGray = new(225, 225, 225);

    /// <summary>Relative luminance 0..1 (Rec. 709 weights on the stored values), to choose a text colour that contrasts.</summary>
    public double Luminance => (0.2126 * R + 0.7152 * G + 0.0722 * B) / 255;

    public static Rgb Lerp(Rgb a, Rgb b, double t)
    {
        t = Math.Clamp(t, 0, 1);
        return new Rgb(Mix(a.R, b.R, t), Mix(a.G, b.G, t), Mix(a.B, b.B, t));
    }

    private static byte Mix(byte a, byte b, double t) => (byte)Math.Round(a + (b - a) * t);
}

public enum TextAlign { Left, Center, Right }

/// <summary>
/// An RGB raster with the few primitives charts need: filled rectangles, anti-aliased lines, and text in the built-in
/// <see cref="BitmapFont"/> (horizontal, or rotated 90° counter-clockwise for y-axis labels). Drawing outside clips.
/// </summary>
public sealed class Canvas
{
    private readonly byte[] pixels;

    public Canvas(int width, int height, Rgb background)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Width = width;
        Height = height;
        pixels = new byte[width * height * 3];
        FillRectangle(0, 0, width, height, background);
    }

    public int Width { get; }
    public int Height { get; }

    public Rgb this[int x, int y]
    {
        get
        {
            var i = (y * Width + x) * 3;
            return new Rgb(pixels[i], pixels[i + 1], pixels[i + 2]);
        }
    }

    public void SetPixel(int x, int y, Rgb color)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        var i = (y * Width + x) * 3;
        pixels[i] = color.R;
        pixels[i + 1] = color.G;
        pixels[i + 2] = color.B;
    }

    /// <summary>Mixes <paramref name="color"/> into a pixel with opacity <paramref name="alpha"/> (0..1): anti-aliased edges.</summary>
    public void BlendPixel(int x, int y, Rgb color, double alpha)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || alpha <= 0) return;
        SetPixel(x, y, alpha >= 1 ? color : Rgb.Lerp(this[x, y], color, alpha));
    }

    public void FillRectangle(int x, int y, int width, int height, Rgb color)
    {
        var x0 = Math.Max(x, 0);
        var y0 = Math.Max(y, 0);
        var x1 = Math.Min(x + width, Width);
        var y1 = Math.Min(y + height, Height);
        for (var yy = y0; yy < y1; yy++)
            for (var xx = x0; xx < x1; xx++) SetPixel(xx, yy, color);
    }

    /// <summary>A one-pixel outline just inside (x, y, width, height).</summary>
    public void DrawRectangle(int x, int y, int width, int height, Rgb color)
    {
        FillRectangle(x, y, width, 1, color);
        FillRectangle(x, y + height - 1, width, 1, color);
        FillRectangle(x, y, 1, height, color);
        FillRectangle(x + width - 1, y, 1, height, color);
    }

    /// <summary>
    /// An anti-aliased line of <paramref name="thickness"/> pixels between pixel-centre coordinates: each pixel is covered
    /// by how far its centre lies inside the stroke (a one-pixel ramp at the edge), so curves look smooth at any slope.
    /// </summary>
    public void DrawLine(double x0, double y0, double x1, double y1, Rgb color, double thickness = 1)
    {
        var half = thickness / 2;
        var minX = (int)Math.Floor(Math.Min(x0, x1) - half - 1);
        var maxX = (int)Math.Ceiling(Math.Max(x0, x1) + half + 1);
        var minY = (int)Math.Floor(Math.Min(y0, y1) - half - 1);
        var maxY = (int)Math.Ceiling(Math.Max(y0, y1) + half + 1);
        var dx = x1 - x0;
        var dy = y1 - y0;
        var lengthSquared = dx * dx + dy * dy;
        for (var y = Math.Max(minY, 0); y <= Math.Min(maxY, Height - 1); y++)
            for (var x = Math.Max(minX, 0); x <= Math.Min(maxX, Width - 1); x++)
            {
                // Distance from the pixel centre to the segment (its nearest point, clamped to the ends).
                var t = lengthSquared == 0 ? 0 : Math.Clamp(((x - x0) * dx + (y - y0) * dy) / lengthSquared, 0, 1);
                var ex = x - (x0 + t * dx);
                var ey = y - (y0 + t * dy);
                var coverage = half + 0.5 - Math.Sqrt(ex * ex + ey * ey);
                if (coverage > 0) BlendPixel(x, y, color, Math.Min(coverage, 1));
            }
    }

    public void DrawPolyline(IReadOnlyList<(double X, double Y)> points, Rgb color, double thickness = 1)
    {
        ArgumentNullException.ThrowIfNull(points);
        for (var i = 1; i < points.Count; i++) DrawLine(points[i - 1].X, points[i - 1].Y, points[i].X, points[i].Y, color, thickness);
        if (points.Count == 1) DrawLine(points[0].X, points[0].Y, points[0].X, points[0].Y, color, thickness);
    }

    /// <summary>Draws one line of text with its top edge at <paramref name="y"/>, aligned on <paramref name="x"/>.</summary>
    public void DrawText(int x, int y, string text, Rgb color, int scale = 1, TextAlign align = TextAlign.Left)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        var (width, _) = BitmapFont.Measure(text, scale);
        x -= align switch { TextAlign.Center => width / 2, TextAlign.Right => width, _ => 0 };
        for (var i = 0; i < text.Length; i++)
        {
            var left = x + i * BitmapFont.CellWidth * scale;
            for (var row = 0; row < BitmapFont.GlyphRows; row++)
                for (var column = 0; column < BitmapFont.GlyphWidth; column++)
                    if (BitmapFont.IsSet(text[i], column, row))
                        FillRectangle(left + column * scale, y + row * scale, scale, scale, color);
        }
    }

    /// <summary>
    /// Draws text rotated 90° counter-clockwise (read bottom to top), its glyph tops facing left at <paramref name="x"/>,
    /// centred vertically on <paramref name="centerY"/>: the usual y-axis label.
    /// </summary>
    public void DrawTextVertical(int x, int centerY, string text, Rgb color, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        var (length, _) = BitmapFont.Measure(text, scale);
        var bottom = centerY + length / 2;
        for (var i = 0; i < text.Length; i++)
        {
            var start = bottom - i * BitmapFont.CellWidth * scale;
            for (var row = 0; row < BitmapFont.GlyphRows; row++)
                for (var column = 0; column < BitmapFont.GlyphWidth; column++)
                    if (BitmapFont.IsSet(text[i], column, row))
                        FillRectangle(x + row * scale, start - (column + 1) * scale, scale, scale, color);
        }
    }

    public ImageBuffer ToImage() => new(Width, Height, 3, (byte[])pixels.Clone());

    public byte[] ToPng() => PngCodec.Encode(ToImage());
}
