using System.Globalization;
using Pipeline.Vision.Evaluation;

namespace Pipeline.Vision.Plotting;

/// <summary>The evaluation pictures: confusion-matrix heat-maps, precision-recall curves (detection and classification), per-epoch training curves.</summary>
public static class Charts
{
    private const int S = Axes.Scale;
    private const int TitleScale = 3;
    private static readonly int LineHeight = BitmapFont.CellHeight * S;

    /// <summary>
    /// A heat-map of <paramref name="matrix"/> (rows = true class, columns = predicted): each cell coloured by its share
    /// of its row (recall for the diagonal), with the count and that share written in it while cells are large enough
    /// (up to 30 classes), class names on both axes, and a colour bar.
    /// </summary>
    public static Canvas ConfusionMatrix(long[][] matrix, IReadOnlyList<string> classes, string title = "Confusion matrix")
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(classes);
        var n = classes.Count;
        if (n == 0 || matrix.Length != n || matrix.Any(r => r.Length != n))
            throw new ArgumentException($"a confusion matrix of {n} classes must be {n}x{n}", nameof(matrix));
        // Cell size and text by class count: two lines of text, one small line, or colour only.
        var (cellW, cellH, textScale) = n <= 12 ? (76, 50, 2) : n <= 30 ? (40, 24, 1) : (Math.Max(4, 900 / n), Math.Max(4, 900 / n), 0);
        var labelScale = n <= 30 ? S : 1;
        var names = classes.Select(c => Truncate(c, 24)).ToArray();
        var nameWidth = names.Max(c => BitmapFont.Measure(c, labelScale).Width);
        var left = 16 + BitmapFont.GlyphRows * S + 16 + nameWidth + 10;
        var top = 16 + BitmapFont.GlyphRows * TitleScale + 12 + LineHeight + 8;
        var gridW = cellW * n;
        var gridH = cellH * n;
        var barX = left + gridW + 30;
        const string legend = "colour: share of the true class (row)";
        // Wide enough for the titles too (a matrix of two classes is narrower than its subtitle).
        var width = Math.Max(barX + 24 + 10 + BitmapFont.Measure("100%", S).Width + 20,
            Math.Max(BitmapFont.Measure(title, TitleScale).Width, BitmapFont.Measure(legend, S).Width) + 40);
        var height = top + gridH + 10 + nameWidth + 16 + BitmapFont.GlyphRows * S + 20;
        var canvas = new Canvas(width, Math.Max(height, top + gridH + 40), Rgb.White);

        canvas.DrawText(width / 2, 16, title, Rgb.Black, TitleScale, TextAlign.Center);
        canvas.DrawText(width / 2, 16 + BitmapFont.GlyphRows * TitleScale + 12, legend, Rgb.Gray, S, TextAlign.Center);
        for (var t = 0; t < n; t++)
        {
            var support = matrix[t].Sum();
            for (var p = 0; p < n; p++)
            {
                var share = support == 0 ? 0 : (double)matrix[t][p] / support;
                var fill = Palette.Sequential(share);
                var x = left + p * cellW;
                var y = top + t * cellH;
                canvas.FillRectangle(x, y, cellW, cellH, fill);
                if (textScale == 0) continue;
                var ink = Palette.TextOn(fill);
                var count = matrix[t][p].ToString(CultureInfo.InvariantCulture);
                if (matrix[t][p] == 0)
                {
                    // Empty cells stay quiet: a grey 0, so that the confusions stand out.
                    canvas.DrawText(x + cellW / 2, y + (cellH - BitmapFont.GlyphRows * textScale) / 2, "0", Rgb.Gray, textScale, TextAlign.Center);
                }
                else if (textScale == 2)
                {
                    canvas.DrawText(x + cellW / 2, y + 7, count, ink, textScale, TextAlign.Center);
                    canvas.DrawText(x + cellW / 2, y + 7 + 16 + 6, Percent(share), ink, 2, TextAlign.Center);
                }
                else
                {
                    canvas.DrawText(x + cellW / 2, y + (cellH - BitmapFont.GlyphRows) / 2, count, ink, 1, TextAlign.Center);
                }
            }
        }
        // Thin white lines between cells keep neighbouring cells of the same colour apart.
        if (cellW >= 12)
            for (var k = 1; k < n; k++)
            {
                canvas.FillRectangle(left + k * cellW, top, 1, gridH, Rgb.White);
                canvas.FillRectangle(left, top + k * cellH, gridW, 1, Rgb.White);
            }
        canvas.DrawRectangle(left - 1, top - 1, gridW + 2, gridH + 2, Rgb.Gray);
        if (n <= 60)
            for (var k = 0; k < n; k++)
            {
                var labelHeight = BitmapFont.GlyphRows * labelScale;
                canvas.DrawText(left - 8, top + k * cellH + (cellH - labelHeight) / 2, names[k], Rgb.Black, labelScale, TextAlign.Right);
                canvas.DrawTextVertical(left + k * cellW + (cellW - labelHeight) / 2, top + gridH + 8 + BitmapFont.Measure(names[k], labelScale).Width / 2, names[k], Rgb.Black, labelScale);
            }
        canvas.DrawText(left + gridW / 2, top + gridH + 10 + nameWidth + 16, "predicted", Rgb.Black, S, TextAlign.Center);
        canvas.DrawTextVertical(16, top + gridH / 2, "true", Rgb.Black, S);

        // Colour bar: the share of the row, 0% at the bottom.
        for (var y = 0; y < gridH; y++)
            canvas.FillRectangle(barX, top + y, 24, 1, Palette.Sequential(1 - (double)y / (gridH - 1)));
        canvas.DrawRectangle(barX - 1, top - 1, 26, gridH + 2, Rgb.Gray);
        foreach (var tick in new[] { 0.0, 0.25, 0.5, 0.75, 1.0 })
        {
            var y = top + (int)Math.Round((1 - tick) * (gridH - 1));
            canvas.FillRectangle(barX + 24, y, 5, 1, Rgb.Black);
            canvas.DrawText(barX + 24 + 9, Math.Clamp(y - BitmapFont.GlyphRows * S / 2, 0, canvas.Height - 16), Percent(tick, 0), Rgb.Black, S);
        }
        return canvas;
    }

    /// <summary>
    /// The confusion matrix of a detection report (<see cref="DetectionReport.ConfusionMatrix"/>): the classes and
    /// background on both axes.
    /// </summary>
    public static Canvas ConfusionMatrix(DetectionReport report, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.ConfusionMatrix is null) throw new ArgumentException("the detection report has no confusion matrix (written before it had one)", nameof(report));
        return ConfusionMatrix(report.ConfusionMatrix, report.ConfusionClasses(), title ?? string.Create(CultureInfo.InvariantCulture,
            $"Confusion matrix (score >= {report.ConfusionThreshold:0.##}, IoU >= {DetectionEvaluator.ConfusionIou:0.##})"));
    }

    /// <summary>
    /// Precision-recall curves at IoU .5 (COCO's 101-point interpolated precision) of the <paramref name="top"/> classes
    /// with the most ground truth, the legend giving each class's AP50, plus the mean over every evaluated class.
    /// </summary>
    public static Canvas PrecisionRecall(DetectionReport report, int top = 10, string title = "Precision-recall (IoU 0.50)")
    {
        ArgumentNullException.ThrowIfNull(report);
        var curves = report.PerClass.Where(c => c.PrecisionAt50 is not null)
            .Select(c => new NamedCurve(c.Class, c.GroundTruths, c.PrecisionAt50!, c.Ap50!.Value)).ToList();
        return PrecisionRecall(report.RecallThresholds, curves, report.Map50, top, title, "class  AP50", "no class has ground truth");
    }

    /// <summary>
    /// One-vs-rest precision-recall curves (101-point interpolated precision) of the <paramref name="top"/> classes with
    /// the most items, the legend giving each class's AP, plus the mean over every class with items and its mAP.
    /// </summary>
    public static Canvas PrecisionRecall(ClassificationReport report, int top = 10, string title = "Precision-recall (one vs rest)")
    {
        ArgumentNullException.ThrowIfNull(report);
        var curves = report.PerClass.Where(c => c.PrecisionAtRecall is not null)
            .Select(c => new NamedCurve(c.Class, c.Support, c.PrecisionAtRecall!, c.Ap!.Value)).ToList();
        return PrecisionRecall(report.RecallThresholds ?? [], curves, report.MeanAp, top, title, "class  AP", "no scores (labels only)");
    }

    private sealed record NamedCurve(string Class, long Items, IReadOnlyList<double> Precision, double Ap);

    private static Canvas PrecisionRecall(IReadOnlyList<double> recall, List<NamedCurve> curves, double? meanAp, int top, string title,
        string legendTitle, string noCurves)
    {
        var shown = curves.OrderByDescending(c => c.Items).Take(top).OrderByDescending(c => c.Ap).ToList();
        var series = shown.Select((c, i) => new Series(
            $"{Truncate(c.Class, 18)}  {c.Ap.ToString("F3", CultureInfo.InvariantCulture)}",
            [.. recall.Select((r, k) => (r, c.Precision[k]))], Palette.Categorical[i % Palette.Categorical.Count])).ToList();
        if (curves.Count > 1 && meanAp is { } map)
        {
            var mean = recall.Select((r, k) => (r, curves.Average(c => c.Precision[k]))).ToList();
            series.Add(new Series($"mean of {curves.Count}  {map.ToString("F3", CultureInfo.InvariantCulture)}", mean, Rgb.Black, 3));
        }
        var canvas = new Canvas(1000, 680, Rgb.White);
        // Centred over the plot, or moved right as far as a long title needs to stay inside the picture.
        canvas.DrawText(Math.Max(380, 20 + BitmapFont.Measure(title, TitleScale).Width / 2), 16, title, Rgb.Black, TitleScale, TextAlign.Center);
        var axes = new Axes(canvas, 110, 64, 540, 520, (0, 1), (0, 1.0));
        var ticks = Enumerable.Range(0, 6).Select(i => i * 0.2).ToArray();
        axes.Draw(ticks, ticks, "recall", "precision");
        foreach (var s in series) axes.Plot(s, s.Color!.Value);
        if (series.Count == 0) canvas.DrawText(axes.Left + axes.Width / 2, axes.Top + axes.Height / 2, noCurves, Rgb.Gray, S, TextAlign.Center);
        canvas.DrawText(axes.Left + axes.Width + 24, axes.Top, legendTitle, Rgb.Gray, S);
        Legend(canvas, axes.Left + axes.Width + 24, axes.Top + LineHeight + 8, series);
        return canvas;
    }

    /// <summary>
    /// Values per epoch in two panels: losses (left, from 0) and scores in 0..1 (right: accuracy, F1, mAP...), each series
    /// a line with a dot per epoch.
    /// </summary>
    public static Canvas TrainingCurves(IReadOnlyList<Series> losses, IReadOnlyList<Series> scores, string title = "Training")
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentNullException.ThrowIfNull(scores);
        var all = losses.Concat(scores).SelectMany(s => s.Points).ToList();
        // At least epochs 1..2 on the axis: one epoch alone would make an empty range.
        var lastEpoch = Math.Max(2, all.Count == 0 ? 2 : (int)Math.Ceiling(all.Max(p => p.X)));
        var xTicks = Axes.NiceTicks(1, lastEpoch, 6, minStep: 1);
        var canvas = new Canvas(1280, 570, Rgb.White);
        canvas.DrawText(canvas.Width / 2, 16, title, Rgb.Black, TitleScale, TextAlign.Center);
        Panel(canvas, 110, losses, Axes.NiceRange(losses.SelectMany(s => s.Points).Select(p => p.Y)), "loss", xTicks, lastEpoch, 0);
        Panel(canvas, 110 + 640, scores, (0, 1), "score", xTicks, lastEpoch, losses.Count);
        return canvas;
    }

    private static void Panel(Canvas canvas, int left, IReadOnlyList<Series> series, (double Min, double Max) y, string yLabel,
        double[] xTicks, int lastEpoch, int firstColor)
    {
        var axes = new Axes(canvas, left, 64 + (series.Count + 1) / 2 * LineHeight, 480, 420 - (series.Count + 1) / 2 * LineHeight, (1, lastEpoch), y);
        axes.Draw(xTicks, Axes.NiceTicks(y.Min, y.Max), "epoch", yLabel);
        var colored = series.Select((s, i) => s with { Color = s.Color ?? Palette.Categorical[(firstColor + i) % Palette.Categorical.Count] }).ToList();
        foreach (var s in colored)
        {
            var finite = s with { Points = [.. s.Points.Where(p => double.IsFinite(p.Y))] };
            axes.Plot(finite, s.Color!.Value);
            axes.Mark(finite, s.Color!.Value);
        }
        // Legend above the panel, two entries a row.
        for (var i = 0; i < colored.Count; i++)
        {
            var x = left + i % 2 * 240;
            var yy = 64 + i / 2 * LineHeight - 4;
            canvas.FillRectangle(x, yy + 6, 24, 4, colored[i].Color!.Value);
            canvas.DrawText(x + 32, yy, Truncate(colored[i].Name, 16), Rgb.Black, S);
        }
    }

    private static void Legend(Canvas canvas, int x, int y, IReadOnlyList<Series> series)
    {
        for (var i = 0; i < series.Count; i++)
        {
            var yy = y + i * (LineHeight + 6);
            canvas.FillRectangle(x, yy + 6, 28, (int)Math.Ceiling(series[i].Thickness) + 1, series[i].Color!.Value);
            canvas.DrawText(x + 36, yy, series[i].Name, Rgb.Black, S);
        }
    }

    // "100%" rather than "100.0%": the widest label then fits the cell.
    private static string Percent(double share, int decimals = 1) =>
        (share >= 0.9995 ? "100" : (share * 100).ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)) + "%";

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "~";
}
