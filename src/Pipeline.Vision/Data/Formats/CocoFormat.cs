using System.Globalization;
using System.Text.Json;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Vision.Data.Formats;

/// <summary>
/// COCO object detection JSON: <c>images</c> (id, file_name, width, height), <c>annotations</c> (image_id, category_id,
/// bbox [x, y, w, h] in pixels, iscrowd 0 or 1) and <c>categories</c> (id, name). One file per split, as Roboflow's
/// <c>train/_annotations.coco.json</c> or COCO's <c>annotations/instances_val2017.json</c>; the split comes from the
/// file's folder or name. Classes are the categories by id, matched by name across files.
/// </summary>
public sealed class CocoFormat : IDatasetFormat
{
    public string Name => "coco";

    public bool Matches(IFileSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return AnnotationFiles(source).Any();
    }

    public DatasetLoad Load(IFileSource source, DatasetLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        var problems = new List<DatasetProblem>();
        var classes = new List<string>();
        var items = new List<DatasetItem>();
        var byFileName = DatasetPaths.IndexByFileName(source);
        var files = AnnotationFiles(source).ToList();
        if (files.Count == 0) throw new DatasetFormatException($"{source.Name}: no COCO annotation file (JSON with images, annotations and categories)");
        foreach (var file in files)
        {
            using var json = Parse(source, file);
            LoadFile(source, file, json.RootElement, classes, items, problems, byFileName);
        }
        return new DatasetLoad(new Dataset(TaskKind.Detect, classes, items, Name, source.Name), problems);
    }

    private static void LoadFile(IFileSource source, string file, JsonElement root, List<string> classes, List<DatasetItem> items,
        List<DatasetProblem> problems, ILookup<string, string> byFileName)
    {
        var where = source.Describe(file);
        var split = DatasetPaths.SplitOfPath(file) is var s && s != DatasetSplit.Unassigned ? s : DatasetPaths.SplitOfFileName(file);
        var categories = Categories(root, where, classes);

        var boxes = new Dictionary<long, List<BoundingBox>>();
        // Problems of annotations wait for their image, so that each names the image it takes out.
        var pending = new Dictionary<long, List<(ProblemKind Kind, string Message)>>();
        foreach (var annotation in Array(root, "annotations", where))
        {
            var id = annotation.TryGetProperty("id", out var aid) ? aid.ToString() : "?";
            var hasImage = TryLong(annotation, "image_id", out var imageId);
            (ProblemKind, string)? problem = null;
            if (!hasImage || !TryLong(annotation, "category_id", out var categoryId)
                || !annotation.TryGetProperty("bbox", out var bbox) || bbox.ValueKind != JsonValueKind.Array || bbox.GetArrayLength() != 4
                || bbox.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Number))
                problem = (ProblemKind.MalformedLabel, $"annotation {id} needs image_id, category_id and bbox [x, y, w, h]");
            else if (!categories.TryGetValue(categoryId, out var classId))
                problem = (ProblemKind.UnknownClass, $"annotation {id} has category_id {categoryId}, which is not among the categories");
            else
            {
                var v = bbox.EnumerateArray().Select(e => e.GetDouble()).ToArray();
                if (!boxes.TryGetValue(imageId, out var list)) boxes[imageId] = list = [];
                // Crowd annotations (iscrowd 1) mark regions of many objects: kept, flagged, for training and evaluation to treat apart.
                var crowd = annotation.TryGetProperty("iscrowd", out var flag) && (flag.ValueKind == JsonValueKind.True
                    || (flag.ValueKind == JsonValueKind.Number && flag.TryGetInt32(out var n) && n != 0));
                list.Add(new BoundingBox(v[0], v[1], v[0] + v[2], v[1] + v[3], classId, crowd));
            }
            if (problem is not { } p) continue;
            if (!hasImage) problems.Add(new(p.Item1, where, p.Item2));
            else
            {
                if (!pending.TryGetValue(imageId, out var waiting)) pending[imageId] = waiting = [];
                waiting.Add(p);
            }
        }

        var listed = new HashSet<long>();
        foreach (var image in Array(root, "images", where))
        {
            if (!TryLong(image, "id", out var imageId) || !image.TryGetProperty("file_name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String)
            {
                problems.Add(new(ProblemKind.MalformedLabel, where, "image record without id or file_name"));
                continue;
            }
            listed.Add(imageId);
            var name = nameElement.GetString()!;
            var path = DatasetPaths.ResolveImage(source, file, name, byFileName);
            if (path is null)
            {
                problems.Add(new(ProblemKind.LabelWithoutImage, where, $"image {imageId} ({name}) is not in the dataset"));
                continue;
            }
            if (pending.TryGetValue(imageId, out var waiting))
            {
                foreach (var (kind, message) in waiting)
                    problems.Add(new(kind, where, $"{message}; image {imageId} ({name}) left out", path));
                continue;
            }
            (int, int)? size = TryLong(image, "width", out var w) && TryLong(image, "height", out var h) ? ((int)w, (int)h) : null;
            items.Add(new DatasetItem
            {
                Path = path,
                Boxes = boxes.TryGetValue(imageId, out var list) ? list : [],
                Split = split,
                Size = size,
                Origin = $"{where} (image id {imageId})",
            });
        }
        foreach (var imageId in boxes.Keys.Concat(pending.Keys).Where(id => !listed.Contains(id)).Distinct().Order())
            problems.Add(new(ProblemKind.MalformedLabel, where, $"annotations refer to image id {imageId}, which is not among the images"));
    }

    /// <summary>Category id to class index, adding new names to <paramref name="classes"/>. A category that only serves as
    /// the supercategory of others (Roboflow exports one, id 0, named after the dataset) is not a class.</summary>
    private static Dictionary<long, int> Categories(JsonElement root, string where, List<string> classes)
    {
        var raw = new List<(long Id, string Name, string? Super)>();
        foreach (var category in Array(root, "categories", where))
        {
            if (!TryLong(category, "id", out var id) || !category.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                throw new DatasetFormatException($"{where}: category without id or name");
            var super = category.TryGetProperty("supercategory", out var sc) && sc.ValueKind == JsonValueKind.String ? sc.GetString() : null;
            raw.Add((id, name.GetString()!, super));
        }
        var used = Array(root, "annotations", where)
            .Select(a => TryLong(a, "category_id", out var c) ? c : long.MinValue).ToHashSet();
        var supers = raw.Where(c => c.Super is not null).Select(c => c.Super!).ToHashSet(StringComparer.Ordinal);
        var map = new Dictionary<long, int>();
        foreach (var (id, name, _) in raw.OrderBy(c => c.Id))
        {
            if (supers.Contains(name) && !used.Contains(id) && raw.Any(c => c.Super == name && c.Name != name)) continue;
            var index = classes.IndexOf(name);
            if (index < 0)
            {
                index = classes.Count;
                classes.Add(name);
            }
            map[id] = index;
        }
        return map;
    }

    private static IEnumerable<string> AnnotationFiles(IFileSource source) =>
        source.Files.Where(f => !DatasetPaths.IsNoise(f) && f.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && LooksLikeCoco(source, f));

    // Checks the keys without building a document, so that large unrelated JSON files are cheap to pass over.
    private static bool LooksLikeCoco(IFileSource source, string file)
    {
        try
        {
            var reader = new Utf8JsonReader(source.ReadAllBytes(file));
            var keys = new HashSet<string>(StringComparer.Ordinal);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                keys.Add(reader.GetString()!);
                reader.Read();
                reader.Skip();
            }
            return keys.Contains("images") && keys.Contains("annotations") && keys.Contains("categories");
        }
        catch (JsonException)
        {
            // A .json with an images/annotations/categories shape that does not parse is reported by Load.
            return Path.GetFileName(file).Contains("annotation", StringComparison.OrdinalIgnoreCase)
                || Path.GetFileName(file).StartsWith("instances", StringComparison.OrdinalIgnoreCase);
        }
    }

    private static JsonDocument Parse(IFileSource source, string file)
    {
        try
        {
            return JsonDocument.Parse(source.ReadAllBytes(file));
        }
        catch (JsonException e)
        {
            throw new DatasetFormatException($"{source.Describe(file)}: malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", e);
        }
    }

    private static IEnumerable<JsonElement> Array(JsonElement root, string key, string where)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
            throw new DatasetFormatException($"{where}: no \"{key}\" array");
        return array.EnumerateArray();
    }

    private static bool TryLong(JsonElement element, string key, out long value)
    {
        value = 0;
        if (!element.TryGetProperty(key, out var v)) return false;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out value)) return true;
        return v.ValueKind == JsonValueKind.String && long.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out value);
    }

}
