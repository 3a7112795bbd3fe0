using System.Globalization;
using Pipeline.Vision.Plotting;

namespace Pipeline.Training.Progress;

/// <summary>Reads <c>results.csv</c> (as <see cref="CsvResultsSink"/> writes it) back, and draws its curves.</summary>
public static class ResultsCsv
{
    /// <summary>
    /// Each numeric column's values by column name, one per epoch in epoch order. A resumed run may repeat an epoch
    /// (appended after a crash mid-epoch): the last row of an epoch wins.
    /// </summary>
    public static IReadOnlyDictionary<string, double[]> Read(string path) => Parse(File.ReadAllLines(path), path);

    /// <summary>
    /// The rows of a results file that a running training process is still appending to (a sweep watching its trials):
    /// only complete lines count, since a row ends with its newline and a line without one may be half-written. Null while
    /// the file or its header's line is not there yet.
    /// </summary>
    public static IReadOnlyDictionary<string, double[]>? ReadWritten(string path)
    {
        string text;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            text = reader.ReadToEnd();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        var end = text.LastIndexOf('\n');
        return end < 0 ? null : Parse(text[..end].Split('\n'), path);
    }

    private static IReadOnlyDictionary<string, double[]> Parse(IEnumerable<string> allLines, string path)
    {
        var lines = allLines.Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray();
        if (lines.Length == 0) throw new InvalidDataException($"{path}: empty");
        var header = lines[0].Split(',');
        var epochColumn = Array.IndexOf(header, "epoch");
        if (epochColumn < 0) throw new InvalidDataException($"{path}: no 'epoch' column in the header '{lines[0]}'");
        var rows = new SortedDictionary<double, double[]>();
        for (var i = 1; i < lines.Length; i++)
        {
            var cells = lines[i].Split(',');
            if (cells.Length != header.Length) throw new InvalidDataException($"{path}:{i + 1}: {cells.Length} cells, the header has {header.Length}");
            var values = cells.Select(c => double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN).ToArray();
            rows[values[epochColumn]] = values;
        }
        return header.Select((name, k) => (name, k)).ToDictionary(c => c.name, c => rows.Values.Select(r => r[c.k]).ToArray());
    }

    /// <summary>Losses (columns ending in <c>_loss</c>) and validation scores (other <c>val_</c> columns) per epoch.</summary>
    public static Canvas Chart(string path, string title = "Training")
    {
        var columns = Read(path);
        var epochs = columns["epoch"];
        Series ToSeries(string column) =>
            new(column.Replace('_', ' '), [.. epochs.Zip(columns[column]).Where(p => double.IsFinite(p.Second))]);
        var losses = columns.Keys.Where(c => c.EndsWith("_loss", StringComparison.Ordinal)).Select(ToSeries).ToList();
        var scores = columns.Keys.Where(c => c.StartsWith("val_", StringComparison.Ordinal) && !c.EndsWith("_loss", StringComparison.Ordinal)).Select(ToSeries).ToList();
        return Charts.TrainingCurves(losses, scores, title);
    }
}
