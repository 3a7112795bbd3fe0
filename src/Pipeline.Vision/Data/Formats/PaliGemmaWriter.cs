using System.Text.Encodings.Web;
using System.Text.Json;

namespace Pipeline.Vision.Data.Formats;

/// <summary>Writes a detection dataset as PaliGemma JSONL lines (the format <see cref="PaliGemmaFormat"/> reads).</summary>
public static class PaliGemmaWriter
{
    // '<' and '>' stay literal, as in Roboflow's exports, instead of \u003C escapes.
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One line per item; <paramref name="imageName"/> gives the "image" field (by default the item's file name).
    /// Items need their <see cref="DatasetItem.Size"/>.</summary>
    public static void Write(TextWriter writer, Dataset dataset, IEnumerable<DatasetItem> items, Func<DatasetItem, string>? imageName = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(items);
        if (dataset.Task != TaskKind.Detect) throw new ArgumentException("PaliGemma detection JSONL holds detection datasets", nameof(dataset));
        imageName ??= item => Path.GetFileName(item.Path);
        var prefix = PaliGemmaLocations.Prefix(dataset.Classes);
        foreach (var item in items)
        {
            var (width, height) = item.Size ?? throw new ArgumentException($"{item.Path}: the image size is needed to write PaliGemma locations");
            var suffix = PaliGemmaLocations.FormatSuffix(item.Boxes.Select(b => (dataset.Classes[b.ClassId], b.X1, b.Y1, b.X2, b.Y2)), width, height);
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, Options))
            {
                json.WriteStartObject();
                json.WriteString("image", imageName(item));
                json.WriteString("prefix", prefix);
                json.WriteString("suffix", suffix);
                json.WriteEndObject();
            }
            writer.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            writer.Write('\n');
        }
    }
}
