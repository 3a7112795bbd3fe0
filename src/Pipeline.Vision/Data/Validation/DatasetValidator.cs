using System.Security.Cryptography;
using Pipeline.Vision.Data.Formats;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Imaging;

namespace Pipeline.Vision.Data.Validation;

/// <summary>The usable part of a dataset and the report on all of it.</summary>
public sealed record ValidatedDataset(Dataset Dataset, ValidationReport Report);

/// <summary>
/// Checks every item of a loaded dataset against its files: the image decodes (header first, so bombs are refused
/// before decoding), it is not a byte-for-byte duplicate of an earlier file, and its boxes are inside it with an area.
/// Applies the <see cref="ProblemPolicy"/>: items with problems are left out, and any Fail problem fails the dataset.
/// </summary>
public sealed class DatasetValidator
{
    /// <summary>Boxes overhanging the image by up to this many pixels are clamped to it (rounding in exported
    /// coordinates), not reported.</summary>
    public const double EdgeTolerance = 1.0;

    public ProblemPolicy Policy { get; init; } = ProblemPolicy.Default;
    public ImageDecoder Decoder { get; init; } = ImageDecoder.Default;
    /// <summary>Decode every image fully (finds truncated and corrupt data); false reads headers only.</summary>
    public bool DecodeImages { get; init; } = true;

    public ValidatedDataset Validate(IFileSource source, DatasetLoad load)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(load);
        var dataset = load.Dataset;
        var checks = new ItemCheck[dataset.Items.Count];
        ParallelItems.For(checks.Length, k => checks[k] = Check(source, dataset.Items[k]));

        var problems = new List<DatasetProblem>(load.Problems);
        var kept = new List<DatasetItem>();
        var firstByHash = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var k = 0; k < checks.Length; k++)
        {
            var check = checks[k];
            var item = check.Item;
            if (check.Problems.Count == 0 && check.Hash is not null)
            {
                if (firstByHash.TryGetValue(check.Hash, out var first))
                    check.Problems.Add(new(ProblemKind.DuplicateFile, source.Describe(item.Path), $"same content as {first}", item.Path));
                else firstByHash[check.Hash] = item.Path;
            }
            problems.AddRange(check.Problems);
            if (check.Problems.Count == 0) kept.Add(item);
        }
        if (kept.Count == 0)
        {
            // Name why: "no usable images" alone leaves the user guessing which files failed and how.
            var why = problems.Where(p => p.Item is not null).ToList();
            var reasons = why.Count == 0 ? ""
                : $" ({why.Count} left out: {string.Join("; ", why.Take(3).Select(p => $"{p.File}: {p.Message}"))}{(why.Count > 3 ? "; ..." : "")})";
            problems.Add(new(ProblemKind.EmptyDataset, source.Name, "no usable images" + reasons));
        }
        else if (dataset.Task == TaskKind.Classify && kept.Select(i => i.Label).Distinct().Count() < 2)
        {
            // One class trains to a constant answer with accuracy 1 and loss 0: a model of nothing.
            var only = kept[0].Label is { } label && label < dataset.Classes.Count ? $"'{dataset.Classes[label]}'" : "one class";
            problems.Add(new(ProblemKind.TooFewClasses, source.Name,
                $"a classification dataset needs images of at least 2 classes; all {kept.Count} usable images are of {only}"));
        }

        var clean = dataset.WithItems(kept);
        return new ValidatedDataset(clean, Report(clean, checks.Where(c => c.Problems.Count == 0), problems, dataset.Items.Count - kept.Count));
    }

    private sealed record ItemCheck(DatasetItem Item, List<DatasetProblem> Problems, string? Hash, (int Width, int Height)? Size);

    private ItemCheck Check(IFileSource source, DatasetItem item)
    {
        var problems = new List<DatasetProblem>();
        var where = item.Pixels is null ? source.Describe(item.Path) : item.Path;
        (int Width, int Height)? size = null;
        string? hash = null;
        if (item.Pixels is { } pixels) size = (pixels.Width, pixels.Height);
        else
        {
            try
            {
                var bytes = source.ReadAllBytes(item.Path);
                hash = Convert.ToHexString(SHA256.HashData(bytes));
                var info = Decoder.ReadInfo(bytes, where);
                if (DecodeImages) Decoder.Decode(bytes, where);
                size = (info.Width, info.Height);
            }
            catch (ImageDecodeException e)
            {
                problems.Add(new(ImageProbe.KindOf(e.Fault), where, e.Problem, item.Path));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                problems.Add(new(ProblemKind.UnreadableImage, where, e.Message, item.Path));
            }
        }
        if (size is { } s)
        {
            var origin = item.Origin ?? where;
            if (item.Size is { } declared && declared != s)
                problems.Add(new(ProblemKind.MalformedLabel, origin, $"declares {declared.Width}x{declared.Height} for {item.Path}, which is {s.Width}x{s.Height}", item.Path));
            var boxes = new List<BoundingBox>(item.Boxes.Count);
            foreach (var box in item.Boxes)
            {
                if (box.IsDegenerate)
                    problems.Add(new(ProblemKind.DegenerateBox, origin, $"box {Show(box)} of {item.Path} has no area", item.Path));
                else if (box.X1 < -EdgeTolerance || box.Y1 < -EdgeTolerance || box.X2 > s.Width + EdgeTolerance || box.Y2 > s.Height + EdgeTolerance)
                    problems.Add(new(ProblemKind.BoxOutsideImage, origin, $"box {Show(box)} reaches outside {item.Path} ({s.Width}x{s.Height})", item.Path));
                else
                    boxes.Add(box with { X1 = Math.Max(0, box.X1), Y1 = Math.Max(0, box.Y1), X2 = Math.Min(s.Width, box.X2), Y2 = Math.Min(s.Height, box.Y2) });
            }
            item = item with { Boxes = boxes, Size = s };
        }
        return new ItemCheck(item, problems, hash, size);
    }

    private ValidationReport Report(Dataset clean, IEnumerable<ItemCheck> kept, List<DatasetProblem> problems, int skipped)
    {
        var classCount = clean.Classes.Count;
        // A crowd region is not an instance (nothing is trained on it and COCO's evaluation ignores it): not counted.
        long Count(DatasetItem item, int c) => clean.Task == TaskKind.Detect ? item.Boxes.Count(b => b.ClassId == c && !b.IsCrowd) : item.Label == c ? 1 : 0;
        var splits = clean.Items.GroupBy(i => i.Split).OrderBy(g => g.Key)
            .Select(g => new SplitCounts(g.Key, g.Count(), Enumerable.Range(0, classCount).Select(c => g.Sum(i => Count(i, c))).ToList()))
            .ToList();
        var histogram = Enumerable.Range(0, classCount).Select(c => splits.Sum(s => s.PerClass[c])).ToList();
        var sizes = kept.Select(c => c.Size).OfType<(int Width, int Height)>().ToList();
        return new ValidationReport
        {
            Source = clean.Source,
            Format = clean.Format,
            Task = clean.Task,
            Classes = clean.Classes,
            ItemsKept = clean.Items.Count,
            ItemsSkipped = skipped,
            Splits = splits,
            ClassHistogram = histogram,
            LongTailRatio = histogram.Count > 0 && histogram.Min() > 0 ? (double)histogram.Max() / histogram.Min() : null,
            MinWidth = sizes.Count > 0 ? sizes.Min(s => s.Width) : null,
            MinHeight = sizes.Count > 0 ? sizes.Min(s => s.Height) : null,
            MaxWidth = sizes.Count > 0 ? sizes.Max(s => s.Width) : null,
            MaxHeight = sizes.Count > 0 ? sizes.Max(s => s.Height) : null,
            Problems = problems.Select(p => new ReportedProblem(p.Kind, Policy.For(p.Kind), p.File, p.Message, p.Item)).ToList(),
        };
    }

    private static string Show(BoundingBox b) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"[{b.X1:0.#}, {b.Y1:0.#}, {b.X2:0.#}, {b.Y2:0.#}]");
}
