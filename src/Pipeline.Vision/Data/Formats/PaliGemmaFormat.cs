using System.Text.Json;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Vision.Data.Formats;

/// <summary>
/// PaliGemma JSONL as Roboflow exports it: <c>_annotations.train.jsonl</c> (and valid, test) beside the images, each
/// line <c>{"image": "a.jpg", "prefix": "detect cat ; dog", "suffix": "&lt;loc…&gt;… cat ; …"}</c>. Classes are the
/// prefixes' names in order of first appearance; a suffix label outside its line's prefix is an unknown class.
/// </summary>
public sealed class PaliGemmaFormat : IDatasetFormat
{
    public string Name => "paligemma";

    public bool Matches(IFileSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return AnnotationFiles(source).Any();
    }

    public DatasetLoad Load(IFileSource source, DatasetLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<DatasetProblem>();
        var classes = new List<string>();
        var items = new List<DatasetItem>();
        var byFileName = DatasetPaths.IndexByFileName(source);
        foreach (var file in AnnotationFiles(source))
        {
            var split = DatasetPaths.SplitOfFileName(file) is var s && s != DatasetSplit.Unassigned ? s : DatasetPaths.SplitOfPath(file);
            var lines = System.Text.Encoding.UTF8.GetString(source.ReadAllBytes(file)).Split('\n');
            for (var n = 0; n < lines.Length; n++)
            {
                if (lines[n].Trim().Length == 0) continue;
                var where = $"{source.Describe(file)}:{n + 1}";
                if (ParseLine(lines[n], where, problems) is not { } line) continue;
                var path = DatasetPaths.ResolveImage(source, file, line.Image, byFileName);
                if (path is null)
                {
                    problems.Add(new(ProblemKind.LabelWithoutImage, where, $"image {line.Image} is not in the dataset"));
                    continue;
                }
                var prefixClasses = PaliGemmaLocations.ParsePrefix(line.Prefix);
                if (prefixClasses is null)
                {
                    problems.Add(new(ProblemKind.MalformedLabel, where, "the prefix is not 'detect a ; b …'", path));
                    continue;
                }
                foreach (var name in prefixClasses.Where(c => !classes.Contains(c))) classes.Add(name);
                if (ImageProbe.Size(source, path, options.Decoder, problems) is not { } size) continue;
                IReadOnlyList<(string Label, double X1, double Y1, double X2, double Y2)> parsed;
                try
                {
                    parsed = PaliGemmaLocations.ParseSuffix(line.Suffix, size.Width, size.Height);
                }
                catch (FormatException e)
                {
                    problems.Add(new(ProblemKind.MalformedLabel, where, $"suffix {e.Message}", path));
                    continue;
                }
                var unknown = parsed.FirstOrDefault(b => !prefixClasses.Contains(b.Label));
                if (unknown.Label is not null)
                {
                    problems.Add(new(ProblemKind.UnknownClass, where, $"label '{unknown.Label}' is not in the prefix's classes", path));
                    continue;
                }
                items.Add(new DatasetItem
                {
                    Path = path,
                    Boxes = parsed.Select(b => new BoundingBox(b.X1, b.Y1, b.X2, b.Y2, classes.IndexOf(b.Label))).ToList(),
                    Split = split,
                    Size = size,
                    Origin = where,
                });
            }
        }
        return new DatasetLoad(new Dataset(TaskKind.Detect, classes, items, Name, source.Name), problems);
    }

    private static (string Image, string Prefix, string Suffix)? ParseLine(string text, string where, List<DatasetProblem> problems)
    {
        try
        {
            using var json = JsonDocument.Parse(text);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("image", out var image) && image.ValueKind == JsonValueKind.String
                && root.TryGetProperty("prefix", out var prefix) && prefix.ValueKind == JsonValueKind.String
                && root.TryGetProperty("suffix", out var suffix) && suffix.ValueKind == JsonValueKind.String)
                return (image.GetString()!, prefix.GetString()!, suffix.GetString()!);
            problems.Add(new(ProblemKind.MalformedLabel, where, "line needs string fields image, prefix and suffix"));
        }
        catch (JsonException e)
        {
            problems.Add(new(ProblemKind.MalformedLabel, where, $"malformed JSON: {e.Message}"));
        }
        return null;
    }

    private static IEnumerable<string> AnnotationFiles(IFileSource source) =>
        source.Files.Where(f => !DatasetPaths.IsNoise(f) && f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase));
}
