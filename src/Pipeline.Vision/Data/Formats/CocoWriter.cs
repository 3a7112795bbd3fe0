using System.Text.Json;

namespace Pipeline.Vision.Data.Formats;

/// <summary>Writes a detection dataset's items as one COCO JSON file (the format <see cref="CocoFormat"/> reads).</summary>
public static class CocoWriter
{
    /// <summary>Categories get ids 1..n in class order; <paramref name="imageName"/> gives each file_name (by default the
    /// item's path). Items need their <see cref="DatasetItem.Size"/>.</summary>
    public static void Write(Stream output, Dataset dataset, IEnumerable<DatasetItem> items, Func<DatasetItem, string>? imageName = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(items);
        if (dataset.Task != TaskKind.Detect) throw new ArgumentException("COCO detection JSON holds detection datasets", nameof(dataset));
        imageName ??= item => item.Path;
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false });
        json.WriteStartObject();
        json.WriteStartArray("images");
        var list = items.ToList();
        for (var k = 0; k < list.Count; k++)
        {
            var (width, height) = list[k].Size ?? throw new ArgumentException($"{list[k].Path}: the image size is needed for COCO");
            json.WriteStartObject();
            json.WriteNumber("id", k + 1);
            json.WriteString("file_name", imageName(list[k]));
            json.WriteNumber("width", width);
            json.WriteNumber("height", height);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("annotations");
        var annotationId = 0;
        for (var k = 0; k < list.Count; k++)
        {
            foreach (var box in list[k].Boxes)
            {
                json.WriteStartObject();
                json.WriteNumber("id", ++annotationId);
                json.WriteNumber("image_id", k + 1);
                json.WriteNumber("category_id", box.ClassId + 1);
                json.WriteStartArray("bbox");
                json.WriteNumberValue(box.X1);
                json.WriteNumberValue(box.Y1);
                json.WriteNumberValue(box.Width);
                json.WriteNumberValue(box.Height);
                json.WriteEndArray();
                json.WriteNumber("area", box.Width * box.Height);
                json.WriteNumber("iscrowd", 0);
                json.WriteEndObject();
            }
        }
        json.WriteEndArray();
        json.WriteStartArray("categories");
        for (var c = 0; c < dataset.Classes.Count; c++)
        {
            json.WriteStartObject();
            json.WriteNumber("id", c + 1);
            json.WriteString("name", dataset.Classes[c]);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
