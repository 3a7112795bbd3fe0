using System.Globalization;
using Pipeline.Vision.Data;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Plotting;
using Pipeline.Vision.Tests.Support;

namespace Pipeline.Vision.Tests;

public class PlottingTests
{
    private static readonly string[] FashionMnist =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    // Samples are kept beside the test binaries, to look at.
    private static readonly string Samples = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "plots")).FullName;

    [Fact]
    public void The_font_draws_the_letter_a_as_its_table_says_at_any_scale()
    {
        string[] a = [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#", "....."];
        foreach (var scale in new[] { 1, 3 })
        {
            var canvas = new Canvas(20, 30, Rgb.White);
            canvas.DrawText(2, 1, "A", Rgb.Black, scale);
            for (var y = 0; y < 8 * scale; y++)
                for (var x = 0; x < 5 * scale; x++)
                    Assert.Equal(a[y / scale][x / scale] == '#' ? Rgb.Black : Rgb.White, canvas[2 + x, 1 + y]);
        }
        Assert.Equal((29, 8), BitmapFont.Measure("Hello"));
        Assert.Equal((58, 16), BitmapFont.Measure("Hello", 2));
    }

    [Fact]
    public void Every_printable_ascii_glyph_is_distinct_and_only_space_is_blank()
    {
        var glyphs = new HashSet<string>();
        for (var ch = ' '; ch <= '~'; ch++)
        {
            var bits = string.Concat(Enumerable.Range(0, 40).Select(i => BitmapFont.IsSet(ch, i % 5, i / 5) ? '#' : '.'));
            Assert.Equal(ch == ' ', !bits.Contains('#', StringComparison.Ordinal));
            Assert.True(glyphs.Add(bits), $"'{ch}' looks like another glyph");
        }
        // Outside ASCII: drawn as '?'.
        Assert.Equal(BitmapFont.IsSet('?', 1, 0), BitmapFont.IsSet('é', 1, 0));
    }

    [Fact]
    public void Vertical_text_is_the_horizontal_text_turned_counter_clockwise()
    {
        var flat = new Canvas(40, 10, Rgb.White);
        flat.DrawText(0, 0, "Ab", Rgb.Black);
        var (w, h) = BitmapFont.Measure("Ab");
        var turned = new Canvas(10, 40, Rgb.White);
        turned.DrawTextVertical(0, 20, "Ab", Rgb.Black);
        // Turning (x, y) counter-clockwise puts it at (y, bottom - x).
        var bottom = 20 + w / 2 - 1;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++) Assert.Equal(flat[x, y], turned[y, bottom - x]);
    }

    [Fact]
    public void Lines_are_anti_aliased_and_clipped()
    {
        var canvas = new Canvas(40, 40, Rgb.White);
        canvas.DrawLine(-10, 5, 50, 5, Rgb.Black, 1);
        Assert.Equal(Rgb.Black, canvas[20, 5]);
        Assert.Equal(Rgb.White, canvas[20, 7]);
        canvas.DrawLine(0, 10, 39, 30, Rgb.Black, 2);
        // A slanted line has partly covered pixels along its edges: greys between black and white.
        var greys = 0;
        for (var y = 8; y < 33; y++)
            for (var x = 0; x < 40; x++)
                if (canvas[x, y].R is > 0 and < 255) greys++;
        Assert.True(greys > 20, $"{greys} grey pixels");
    }

    [Fact]
    public void Confusion_matrix_heat_map_is_a_readable_png()
    {
        var matrix = SampleMatrix();
        var canvas = Charts.ConfusionMatrix(matrix, FashionMnist, "Fashion-MNIST test");
        var png = canvas.ToPng();
        File.WriteAllBytes(Path.Combine(Samples, "confusion_matrix.png"), png);
        var image = AssertDecodes(png, canvas);

        // Locate the grid by its known layout: the darkest cell (a full diagonal) against an empty one.
        var (left, top, cellW, cellH) = Grid(canvas, FashionMnist.Length);
        var full = CellBackground(image, left, top, cellW, cellH, 1, 1); // Trouser row: all correct
        var empty = CellBackground(image, left, top, cellW, cellH, 1, 0);
        Assert.True(full.Luminance < 0.3, $"full cell {full}");
        Assert.True(empty.Luminance > 0.9, $"empty cell {empty}");
        // Text in contrasting colours: white ink in the dark cell, black in a light one (T-shirts taken for shirts, 9%),
        // and a quiet grey 0 in the empty one.
        Assert.True(CountInCell(image, left, top, cellW, cellH, 1, 1, Rgb.White) > 20);
        Assert.True(CountInCell(image, left, top, cellW, cellH, 0, 6, Rgb.Black) > 20);
        Assert.True(CellBackground(image, left, top, cellW, cellH, 0, 6).Luminance > 0.55);
        Assert.True(CountInCell(image, left, top, cellW, cellH, 1, 0, Rgb.Gray) > 5);
        Assert.Equal(0, CountInCell(image, left, top, cellW, cellH, 1, 0, Rgb.Black));
        AssertMarginsBlank(image);
    }

    [Fact]
    public void Large_class_counts_shrink_the_cells_and_stay_within_bounds()
    {
        foreach (var n in new[] { 2, 20, 100 })
        {
            var classes = Enumerable.Range(0, n).Select(i => $"class {i}").ToArray();
            var matrix = Enumerable.Range(0, n).Select(t => Enumerable.Range(0, n).Select(p => (long)(t == p ? 50 : (t + p) % 3)).ToArray()).ToArray();
            var canvas = Charts.ConfusionMatrix(matrix, classes);
            Assert.InRange(canvas.Width, 200, 1500);
            Assert.InRange(canvas.Height, 150, 1500);
            var png = canvas.ToPng();
            File.WriteAllBytes(Path.Combine(Samples, $"confusion_matrix_{n}.png"), png);
            AssertMarginsBlank(AssertDecodes(png, canvas));
        }
    }

    [Fact]
    public void Precision_recall_curves_show_each_class_in_its_colour_with_a_legend()
    {
        var e = new DetectionEvaluator(["person", "car", "bicycle", "traffic light", "dog"]);
        var random = new Random(3);
        for (var i = 0; i < 40; i++)
        {
            var (truth, predictions) = DetectionMetricsTests.RandomImage(random, 5);
            e.Add(truth, predictions);
        }
        var report = e.Report();
        var evaluated = report.PerClass.Count(c => c.Ap50 is not null);
        Assert.True(evaluated >= 2);
        AssertCurvesDrawn(Charts.PrecisionRecall(report), "pr_curves.png", evaluated);
    }

    [Fact]
    public void Classification_precision_recall_curves_show_each_class_and_the_mean()
    {
        // Fashion-MNIST-like scores: every class told apart, some better than others.
        var random = new Random(4);
        const int items = 2000;
        var labels = Enumerable.Range(0, items).Select(_ => (long)random.Next(FashionMnist.Length)).ToArray();
        var logits = new float[items * FashionMnist.Length];
        for (var n = 0; n < items; n++)
            for (var c = 0; c < FashionMnist.Length; c++)
                logits[n * FashionMnist.Length + c] = (float)(random.NextDouble() * 3 + (labels[n] == c ? 1 + c % 4 * random.NextDouble() : 0));
        var evaluator = new ClassificationEvaluator(FashionMnist, 1);
        using (var scope = TorchSharp.torch.NewDisposeScope())
            evaluator.Update(TorchSharp.torch.tensor(logits, [items, FashionMnist.Length]), TorchSharp.torch.tensor(labels));
        var report = evaluator.Report();
        var image = AssertCurvesDrawn(Charts.PrecisionRecall(report, title: $"Test precision-recall, one vs rest ({items} images)"), "pr_curves_classification.png", FashionMnist.Length);
        // The mean curve, thick and black, inside the plot.
        Assert.True(Colors(image, 110, 64, 650, 584).GetValueOrDefault(Rgb.Black) > 300);

        // Labels only: an empty plot that says why, not an exception.
        var labelsOnly = new ClassificationEvaluator(FashionMnist, 1);
        labelsOnly.Update(labels, labels);
        var empty = Charts.PrecisionRecall(labelsOnly.Report());
        Assert.True(Colors(empty.ToImage(), 110, 64, 650, 584).GetValueOrDefault(Rgb.Gray) > 50);
    }

    [Fact]
    public void Detection_confusion_matrix_has_a_background_row_and_column()
    {
        var e = new DetectionEvaluator(["person", "car", "bicycle"]);
        var random = new Random(3);
        for (var i = 0; i < 60; i++)
        {
            var (truth, predictions) = DetectionMetricsTests.RandomImage(random, 3);
            e.Add(truth, predictions);
        }
        var report = e.Report();
        var canvas = Charts.ConfusionMatrix(report);
        var png = canvas.ToPng();
        File.WriteAllBytes(Path.Combine(Samples, "confusion_matrix_detection.png"), png);
        var image = AssertDecodes(png, canvas);
        AssertMarginsBlank(image);
        // Four rows of cells: the same picture as the matrix drawn with "background" named as a fourth class.
        var same = Charts.ConfusionMatrix(report.ConfusionMatrix!, ["person", "car", "bicycle", "background"], TitleOf(report));
        Assert.Equal(same.ToImage().Pixels, image.Pixels);
        Assert.True(report.ConfusionMatrix!.Sum(r => r.Sum()) > 50);
        // Old reports have no matrix to draw.
        Assert.Throws<ArgumentException>("report", () => Charts.ConfusionMatrix(report with { ConfusionMatrix = null }));
    }

    private static string TitleOf(DetectionReport report) =>
        string.Create(CultureInfo.InvariantCulture, $"Confusion matrix (score >= {report.ConfusionThreshold:0.##}, IoU >= 0.5)");

    // A precision-recall chart: decodes, each of the first series drawn in its colour inside the plot, margins blank.
    private static ImageBuffer AssertCurvesDrawn(Canvas canvas, string sample, int series)
    {
        var png = canvas.ToPng();
        File.WriteAllBytes(Path.Combine(Samples, sample), png);
        var image = AssertDecodes(png, canvas);
        var colors = Colors(image, 110, 64, 650, 584);
        for (var i = 0; i < series; i++)
            Assert.True(colors.GetValueOrDefault(Palette.Categorical[i]) > 50, $"series {i} barely drawn");
        AssertMarginsBlank(image);
        return image;
    }

    [Fact]
    public void Training_curves_plot_every_series_and_a_single_epoch()
    {
        (double, double)[] Points(params double[] ys) => [.. ys.Select((y, i) => ((double)(i + 1), y))];
        var canvas = Charts.TrainingCurves(
            [new Series("train loss", Points(1.2, 0.7, 0.55, 0.48, 0.45)), new Series("val loss", Points(0.8, 0.6, 0.52, 0.5, 0.5))],
            [new Series("val accuracy", Points(0.71, 0.8, 0.83, 0.85, 0.86)), new Series("val macro F1", Points(0.69, 0.79, 0.82, 0.84, 0.85))],
            "results.csv");
        var png = canvas.ToPng();
        File.WriteAllBytes(Path.Combine(Samples, "training_curves.png"), png);
        var image = AssertDecodes(png, canvas);
        var colors = Colors(image, 0, 100, image.Width, 560);
        for (var i = 0; i < 4; i++) Assert.True(colors.GetValueOrDefault(Palette.Categorical[i]) > 100, $"series {i} barely drawn");
        AssertMarginsBlank(image);

        // One epoch: a dot, not nothing.
        var single = Charts.TrainingCurves([new Series("train loss", Points(0.9))], [new Series("val accuracy", Points(0.6))]);
        Assert.True(Colors(single.ToImage(), 0, 100, single.Width, 560).GetValueOrDefault(Palette.Categorical[0]) > 10);
    }

    [Fact]
    public void Pillow_reads_the_charts_pixel_for_pixel()
    {
        var canvas = Charts.ConfusionMatrix(SampleMatrix(), FashionMnist);
        using var folder = new TempFolder();
        var path = folder.Write("cm.png", canvas.ToPng());
        var output = Pillow.Run("""
            import sys, hashlib
            from PIL import Image
            im = Image.open(sys.argv[1])
            print(im.size[0], im.size[1], im.mode, hashlib.sha256(im.tobytes()).hexdigest())
            """, path);
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(canvas.ToImage().Pixels));
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{canvas.Width} {canvas.Height} RGB {expected}"), output.Trim());
    }

    private static long[][] SampleMatrix()
    {
        // A plausible Fashion-MNIST confusion: shirts confused with T-shirts, pullovers and coats; trousers all right.
        var m = new long[10][];
        for (var t = 0; t < 10; t++)
        {
            m[t] = new long[10];
            m[t][t] = 880 + t * 9;
        }
        m[1] = [0, 1000, 0, 0, 0, 0, 0, 0, 0, 0];
        m[6][0] = 120; m[6][2] = 80; m[6][4] = 95; m[6][6] = 640;
        m[0][6] = 90; m[2][4] = 60; m[4][2] = 70; m[9][7] = 35; m[7][9] = 41; m[5][7] = 22;
        m[3][6] = 25; m[8][2] = 12; // Trouser is then the only row without a confusion: the one cell of the darkest colour
        return m;
    }

    private static ImageBuffer AssertDecodes(byte[] png, Canvas canvas)
    {
        var image = PngCodec.Decode(png, "chart");
        Assert.Equal(canvas.Width, image.Width);
        Assert.Equal(canvas.Height, image.Height);
        Assert.Equal(3, image.Channels);
        Assert.Equal(canvas.ToImage().Pixels, image.Pixels);
        return image;
    }

    // Nothing drawn in the outer 4 pixels: text and plots fit inside the picture.
    private static void AssertMarginsBlank(ImageBuffer image)
    {
        for (var y = 0; y < image.Height; y++)
            for (var x = 0; x < image.Width; x++)
            {
                if (x >= 4 && x < image.Width - 4 && y >= 4 && y < image.Height - 4) continue;
                Assert.True(Pixel(image, x, y) == Rgb.White, $"pixel ({x}, {y}) drawn in the margin");
            }
    }

    // Pixels of each colour in a region (the plot areas, leaving the legends' swatches out).
    private static Dictionary<Rgb, int> Colors(ImageBuffer image, int x0, int y0, int x1, int y1)
    {
        var counts = new Dictionary<Rgb, int>();
        for (var y = y0; y < Math.Min(y1, image.Height); y++)
            for (var x = x0; x < Math.Min(x1, image.Width); x++) counts[Pixel(image, x, y)] = counts.GetValueOrDefault(Pixel(image, x, y)) + 1;
        return counts;
    }

    private static Rgb Pixel(ImageBuffer image, int x, int y) => new(image[y, x, 0], image[y, x, 1], image[y, x, 2]);

    // The grid's top-left corner and cell size: the first column and row of the dark Trouser diagonal cell's colour.
    private static (int Left, int Top, int CellW, int CellH) Grid(Canvas canvas, int n)
    {
        var dark = Palette.Sequential(1);
        int minX = int.MaxValue, minY = int.MaxValue, maxX = 0, maxY = 0;
        for (var y = 0; y < canvas.Height; y++)
            for (var x = 0; x < canvas.Width * 3 / 4; x++)
                if (canvas[x, y] == dark)
                {
                    minX = Math.Min(minX, x); minY = Math.Min(minY, y);
                    maxX = Math.Max(maxX, x); maxY = Math.Max(maxY, y);
                }
        // The dark region is the Trouser cell (row 1, column 1), less its white separators.
        var cellW = maxX - minX + 2;
        var cellH = maxY - minY + 2;
        Assert.InRange(n, 1, 12);
        Assert.InRange(cellW, 20, 200); // one cell, not a region spanning several
        Assert.InRange(cellH, 20, 200);
        return (minX - 1 - cellW, minY - 1 - cellH, cellW, cellH);
    }

    private static Rgb CellBackground(ImageBuffer image, int left, int top, int cellW, int cellH, int row, int column) =>
        Pixel(image, left + column * cellW + 3, top + row * cellH + 3);

    private static int CountInCell(ImageBuffer image, int left, int top, int cellW, int cellH, int row, int column, Rgb color)
    {
        var count = 0;
        for (var y = 1; y < cellH - 1; y++)
            for (var x = 1; x < cellW - 1; x++)
                if (Pixel(image, left + column * cellW + x, top + row * cellH + y) == color) count++;
        return count;
    }
}
