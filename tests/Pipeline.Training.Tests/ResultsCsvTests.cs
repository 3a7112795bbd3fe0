using Pipeline.Training.Progress;
using Pipeline.Vision.Plotting;

namespace Pipeline.Training.Tests;

public sealed class ResultsCsvTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("results-csv-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Write(params string[] rows)
    {
        var path = Path.Combine(dir, "results.csv");
        File.WriteAllLines(path, [CsvResultsSink.Header, .. rows]);
        return path;
    }

    [Fact]
    public void Columns_read_back_by_epoch_and_a_repeated_epoch_keeps_its_last_row()
    {
        // A run resumed from a checkpoint before epoch 2 ended writes epoch 2 again.
        var path = Write(
            "1,10,1.5,1.2,0.55,0.5,0.1,1,3.0",
            "2,20,0.9,0.95,0.60,0.58,0.1,1,6.0",
            "2,20,0.8,0.85,0.65,0.61,0.1,1,6.5",
            "3,30,0.7,0.8,0.7,0.69,0.05,1,9.0");
        var columns = ResultsCsv.Read(path);
        Assert.Equal([1.0, 2, 3], columns["epoch"]);
        Assert.Equal([1.5, 0.8, 0.7], columns["train_loss"]);
        Assert.Equal([0.55, 0.65, 0.7], columns["val_accuracy"]);
    }

    [Fact]
    public void The_chart_draws_losses_and_validation_scores_and_survives_an_empty_file()
    {
        var chart = ResultsCsv.Chart(Write("1,10,1.5,1.2,0.55,0.5,0.1,1,3.0", "2,20,0.9,0.95,0.60,0.58,0.1,1,6.0"));
        var counts = new int[4];
        for (var y = 100; y < chart.Height - 60; y++)
            for (var x = 0; x < chart.Width; x++)
            {
                var i = Array.IndexOf([.. Palette.Categorical.Take(4)], chart[x, y]);
                if (i >= 0) counts[i]++;
            }
        // train loss, val loss, val accuracy, val macro F1 (lr and is_best are not plotted).
        Assert.All(counts, c => Assert.True(c > 50, string.Join(", ", counts)));

        var empty = ResultsCsv.Chart(Write());
        Assert.Equal(chart.Width, empty.Width);
    }

    [Fact]
    public void A_file_still_being_written_reads_as_its_complete_rows()
    {
        var path = Path.Combine(dir, "results.csv");
        Assert.Null(ResultsCsv.ReadWritten(path));
        File.WriteAllText(path, CsvResultsSink.Header[..20]);
        Assert.Null(ResultsCsv.ReadWritten(path));
        // The second row is half-written: no newline yet, and fewer cells than the header.
        File.WriteAllText(path, CsvResultsSink.Header + "\n1,10,1.5,1.2,0.55,0.5,0.1,1,3.0\n2,20,0.9,0.9");
        var columns = ResultsCsv.ReadWritten(path)!;
        Assert.Equal([1.0], columns["epoch"]);
        Assert.Equal([0.55], columns["val_accuracy"]);
        // A complete row with too few cells is still an error.
        File.WriteAllText(path, CsvResultsSink.Header + "\n1,10,1.5\n");
        Assert.Throws<InvalidDataException>(() => ResultsCsv.ReadWritten(path));
    }
}
