using System.Globalization;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Pipeline.Vision.Data.Formats;

/// <summary>
/// YOLO (Ultralytics/Darknet/Roboflow): one text file per image with lines <c>class cx cy w h</c> normalized to the
/// image size (or a segmentation polygon <c>class x1 y1 x2 y2 …</c>, whose extent becomes the box). Labels live in a
/// <c>labels</c> folder mirroring <c>images</c> (<c>train/images/a.jpg</c> ↔ <c>train/labels/a.txt</c>, or
/// <c>images/train</c> ↔ <c>labels/train</c>) or beside the image. Class names come from <c>data.yaml</c>'s
/// <c>names</c> (list or index map), <c>classes.txt</c> or <c>*.names</c>. An image without a label file has no objects.
/// </summary>
public sealed class YoloFormat : IDatasetFormat
{
    public string Name => "yolo";

    public bool Matches(IFileSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return ClassFiles(source).Any() && source.Files.Any(f => IsLabelFile(f));
    }

    public DatasetLoad Load(IFileSource source, DatasetLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        var classFile = ClassFiles(source).FirstOrDefault()
            ?? throw new DatasetFormatException($"{source.Name}: no class names for YOLO labels (data.yaml with names, classes.txt or *.names)");
        var classes = ReadClasses(source, classFile);
        var problems = new List<DatasetProblem>();
        var items = new List<DatasetItem>();
        var labels = source.Files.Where(f => IsLabelFile(f)).ToHashSet(StringComparer.Ordinal);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var image in source.Files.Where(f => DatasetPaths.IsImage(f) && !DatasetPaths.IsNoise(f)))
        {
            var label = LabelFor(image, labels);
            if (label is not null) claimed.Add(label);
            if (ImageProbe.Size(source, image, options.Decoder, problems) is not { } size) continue;
            var boxes = new List<BoundingBox>();
            if (label is not null && !ReadLabel(source, label, image, size, classes.Count, boxes, problems)) continue;
            items.Add(new DatasetItem
            {
                Path = image,
                Boxes = boxes,
                Split = DatasetPaths.SplitOfPath(image),
                Size = size,
                Origin = label is null ? null : source.Describe(label),
            });
        }
        foreach (var orphan in labels.Where(l => !claimed.Contains(l)).Order(StringComparer.Ordinal))
            problems.Add(new(ProblemKind.LabelWithoutImage, source.Describe(orphan), "label file has no image"));
        return new DatasetLoad(new Dataset(TaskKind.Detect, classes, items, Name, source.Name), problems);
    }

    /// <summary>Parses one label file into absolute-pixel boxes; false (with a problem naming file and line) leaves the image out.</summary>
    private static bool ReadLabel(IFileSource source, string label, string image, (int Width, int Height) size, int classCount,
        List<BoundingBox> boxes, List<DatasetProblem> problems)
    {
        var text = System.Text.Encoding.UTF8.GetString(source.ReadAllBytes(label));
        var lines = text.Split('\n');
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].Trim();
            if (line.Length == 0) continue;
            var where = $"{source.Describe(label)}:{n + 1}";
            var tokens = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            var numbers = new double[tokens.Length];
            var parsed = tokens.Length >= 5 && tokens.Select((t, k) => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out numbers[k])).All(ok => ok);
            var polygon = tokens.Length >= 7 && tokens.Length % 2 == 1;
            if (!parsed || (tokens.Length != 5 && !polygon) || numbers[0] != Math.Floor(numbers[0]))
            {
                problems.Add(new(ProblemKind.MalformedLabel, where, $"expected 'class cx cy w h' (or a polygon), got {tokens.Length} fields{(parsed || tokens.Length < 5 ? "" : " that are not all numbers")}", image));
                return false;
            }
            var classId = numbers[0];
            if (classId < 0 || classId >= classCount)
            {
                problems.Add(new(ProblemKind.UnknownClass, where, $"class {classId} is not among the {classCount} classes", image));
                return false;
            }
            double x1, y1, x2, y2;
            if (!polygon)
            {
                var (cx, cy, w, h) = (numbers[1], numbers[2], numbers[3], numbers[4]);
                (x1, y1, x2, y2) = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
            }
            else
            {
                var xs = numbers.Skip(1).Where((_, k) => k % 2 == 0).ToArray();
                var ys = numbers.Skip(1).Where((_, k) => k % 2 == 1).ToArray();
                (x1, y1, x2, y2) = (xs.Min(), ys.Min(), xs.Max(), ys.Max());
            }
            boxes.Add(new BoundingBox(x1 * size.Width, y1 * size.Height, x2 * size.Width, y2 * size.Height, (int)classId));
        }
        return true;
    }

    private static string? LabelFor(string image, HashSet<string> labels)
    {
        var parts = image.Split('/');
        var stem = Path.GetFileNameWithoutExtension(parts[^1]) + ".txt";
        // The last "images" folder on the path becomes "labels".
        for (var k = parts.Length - 2; k >= 0; k--)
        {
            if (!parts[k].Equals("images", StringComparison.OrdinalIgnoreCase)) continue;
            var mirrored = (string[])parts.Clone();
            mirrored[k] = "labels";
            mirrored[^1] = stem;
            var candidate = string.Join('/', mirrored);
            if (labels.Contains(candidate)) return candidate;
            break;
        }
        var beside = DatasetPaths.Directory(image) + stem;
        return labels.Contains(beside) ? beside : null;
    }

    private static bool IsLabelFile(string path) =>
        path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) && !DatasetPaths.IsNoise(path)
        && !Path.GetFileName(path).Equals("classes.txt", StringComparison.OrdinalIgnoreCase)
        && !Path.GetFileName(path).StartsWith("README", StringComparison.OrdinalIgnoreCase);

    private static IEnumerable<string> ClassFiles(IFileSource source) =>
        source.Files.Where(f => !DatasetPaths.IsNoise(f) && !f.Contains('/', StringComparison.Ordinal)).Where(f =>
            f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)
            || f.Equals("classes.txt", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".names", StringComparison.OrdinalIgnoreCase))
        .OrderBy(f => f.EndsWith(".txt", StringComparison.Ordinal) || f.EndsWith(".names", StringComparison.Ordinal) ? 1 : 0);

    private static List<string> ReadClasses(IFileSource source, string file)
    {
        var text = System.Text.Encoding.UTF8.GetString(source.ReadAllBytes(file));
        if (!file.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) && !file.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
            return text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        var where = source.Describe(file);
        YamlMappingNode root;
        try
        {
            var yaml = new YamlStream();
            yaml.Load(new StringReader(text));
            root = yaml.Documents.FirstOrDefault()?.RootNode as YamlMappingNode
                ?? throw new DatasetFormatException($"{where}: expected a mapping with 'names'");
        }
        catch (YamlException e)
        {
            throw new DatasetFormatException($"{where}: malformed YAML at line {e.Start.Line}: {e.Message}", e);
        }
        if (!root.Children.TryGetValue(new YamlScalarNode("names"), out var names))
            throw new DatasetFormatException($"{where}: no 'names' list of classes");
        switch (names)
        {
            case YamlSequenceNode list:
                return list.Children.Select(n => (n as YamlScalarNode)?.Value ?? throw new DatasetFormatException($"{where}: class names must be plain strings")).ToList();
            case YamlMappingNode map:
                var byIndex = new SortedDictionary<int, string>();
                foreach (var (key, value) in map.Children)
                {
                    if (key is not YamlScalarNode { Value: { } k } || !int.TryParse(k, NumberStyles.Integer, CultureInfo.InvariantCulture, out var index)
                        || value is not YamlScalarNode { Value: { } name })
                        throw new DatasetFormatException($"{where}: 'names' must map class indices to names");
                    byIndex[index] = name;
                }
                if (byIndex.Count > 0 && (byIndex.Keys.First() != 0 || byIndex.Keys.Last() != byIndex.Count - 1))
                    throw new DatasetFormatException($"{where}: 'names' indices must run from 0 to {byIndex.Count - 1}");
                return byIndex.Values.ToList();
            default:
                throw new DatasetFormatException($"{where}: 'names' must be a list or an index map");
        }
    }

}
