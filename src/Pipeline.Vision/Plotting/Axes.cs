using System.Globalization;

namespace Pipeline.Vision.Plotting;

/// <summary>A named line of (x, y) points; a colour from the palette when none is given.</summary>
public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points, Rgb? Color = null, double Thickness = 2);

/// <summary>Colours for series and scales.</summary>
public static class Palette
{
    /// <summary>Matplotlib's tab10: ten hues that stay distinct on white.</summary>
    public static readonly IReadOnlyList<Rgb> Categorical =
    [
        new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40), new(148, 103, 189),
        new(140, 86, 75), new(227, 119, 194), new(127, 127, 127), new(188, 189, 34), new(23, 190, 207),
    ];

    // ColorBrewer's "Blues": light for small values, dark for large ones.
    private static readonly Rgb[] Blues = [new(247, 251, 255), new(198, 219, 239), new(107, 174, 214), new(33, 113, 181), new(8, 48, 107)];

    /// <summary>The sequential scale's colour for <paramref name="t"/> in 0..1.</summary>
    public static Rgb Sequential(double t)
    {
        t = Math.Clamp(double.IsFinite(t) ? t : 0, 0, 1) * (Blues.Length - 1);
        var i = Math.Min((int)t, Blues.Length - 2);
        return Rgb.Lerp(Blues[i], Blues[i + 1], t - i);
    }

    /// <summary>Black or white, whichever reads better on <paramref name="background"/>.</summary>
    public static Rgb TextOn(Rgb background) => background.Luminance > 0.55 ? Rgb.Black : Rgb.White;
}

/// <summary>
/// A rectangular plot area on a canvas with x and y ranges: maps data to pixels and draws the frame, grid, ticks with
/// their numbers, and axis labels around it (the caller leaves margins for them).
/// </summary>
public sealed class Axes(Canvas canvas, int left, int top, int width, int height, (double Min, double Max) x, (double Min, double Max) y)
{
    public const int Scale = 2;

    public int Left => left;
    public int Top => top;
    public int Width => width;
    public int Height => height;

    public double PixelX(double value) => left + (value - x.Min) / (x.Max - x.Min) * (width - 1);

    public double PixelY(double value) => top + height - 1 - (value - y.Min) / (y.Max - y.Min) * (height - 1);

    /// <summary>Grid, frame, ticks and tick numbers, and the axis labels (y rotated).</summary>
    public void Draw(IReadOnlyList<double> xTicks, IReadOnlyList<double> yTicks, string xLabel, string yLabel)
    {
        ArgumentNullException.ThrowIfNull(xTicks);
        ArgumentNullException.ThrowIfNull(yTicks);
        var xDecimals = Decimals(xTicks);
        var yDecimals = Decimals(yTicks);
        foreach (var t in xTicks)
        {
            var px = (int)Math.Round(PixelX(t));
            canvas.FillRectangle(px, top, 1, height, Rgb.LightGray);
            canvas.FillRectangle(px, top + height, 1, 6, Rgb.Black);
            canvas.DrawText(px, top + height + 10, Format(t, xDecimals), Rgb.Black, Scale, TextAlign.Center);
        }
        var widest = 0;
        foreach (var t in yTicks)
        {
            var py = (int)Math.Round(PixelY(t));
            canvas.FillRectangle(left, py, width, 1, Rgb.LightGray);
            canvas.FillRectangle(left - 6, py, 6, 1, Rgb.Black);
            var label = Format(t, yDecimals);
            widest = Math.Max(widest, BitmapFont.Measure(label, Scale).Width);
            canvas.DrawText(left - 10, py - BitmapFont.GlyphRows * Scale / 2 + 1, label, Rgb.Black, Scale, TextAlign.Right);
        }
        canvas.DrawRectangle(left - 1, top - 1, width + 2, height + 2, Rgb.Black);
        canvas.DrawText(left + width / 2, top + height + 36, xLabel, Rgb.Black, Scale, TextAlign.Center);
        canvas.DrawTextVertical(left - 10 - widest - 12 - BitmapFont.GlyphRows * Scale, top + height / 2, yLabel, Rgb.Black, Scale);
    }

    public void Plot(Series series, Rgb color)
    {
        ArgumentNullException.ThrowIfNull(series);
        var points = series.Points.Select(p => (PixelX(p.X), PixelY(p.Y))).ToList();
        canvas.DrawPolyline(points, color, series.Thickness);
    }

    /// <summary>Dots on each point (for short series such as a few epochs, where a line alone hides where the data are).</summary>
    public void Mark(Series series, Rgb color, double diameter = 7)
    {
        ArgumentNullException.ThrowIfNull(series);
        foreach (var (dx, dy) in series.Points) canvas.DrawLine(PixelX(dx), PixelY(dy), PixelX(dx), PixelY(dy), color, diameter);
    }

    /// <summary>Round tick values covering [min, max] at a 1, 2 or 5 times a power of ten step (about <paramref name="count"/> of them).</summary>
    public static double[] NiceTicks(double min, double max, int count = 5, double minStep = 0)
    {
        if (!(max > min)) return [min];
        var raw = (max - min) / count;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        step = Math.Max(step, minStep);
        var first = Math.Ceiling(min / step - 1e-9) * step;
        var ticks = new List<double>();
        for (var t = first; t <= max + step * 1e-9; t += step) ticks.Add(Math.Round(t / step) * step);
        return [.. ticks];
    }

    /// <summary>A range from 0 (or the data's minimum when negative) to a round number just above the data's maximum.</summary>
    public static (double Min, double Max) NiceRange(IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToList();
        if (finite.Count == 0) return (0, 1);
        var min = Math.Min(0, finite.Min());
        var max = finite.Max();
        if (!(max > min)) max = min + 1;
        var ticks = NiceTicks(min, max);
        var step = ticks.Length > 1 ? ticks[1] - ticks[0] : max - min;
        return (min, Math.Ceiling(max / step - 1e-9) * step);
    }

    private static int Decimals(IReadOnlyList<double> ticks)
    {
        if (ticks.Count < 2) return ticks.Count == 1 && ticks[0] != Math.Round(ticks[0]) ? 2 : 0;
        var step = Math.Abs(ticks[1] - ticks[0]);
        return Math.Max(0, (int)Math.Ceiling(-Math.Log10(step) - 1e-9));
    }

    // Rounding can leave -0 (a tick computed as -1e-17): written as 0.
    private static string Format(double value, int decimals) => (Math.Round(value, decimals) == 0 ? 0 : value).ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
