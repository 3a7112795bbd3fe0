using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Evaluation;

namespace Pipeline.Vision.Tests;

public class DetectionMetricsTests
{
    private static readonly string[] Ab = ["a", "b"];

    private static BoundingBox Box(double x1, double y1, double x2, double y2, int c = 0) => new(x1, y1, x2, y2, c);

    private static ScoredBox Pred(double x1, double y1, double x2, double y2, double score, int c = 0) => new(Box(x1, y1, x2, y2, c), score);

    [Fact]
    public void Perfect_predictions_score_one_everywhere()
    {
        var e = new DetectionEvaluator(Ab);
        BoundingBox[] image1 = [Box(0, 0, 10, 10), Box(20, 5, 40, 30, 1)];
        BoundingBox[] image2 = [Box(3, 3, 9, 12, 1), Box(50, 50, 80, 70, 1)];
        e.Add(image1, [.. image1.Select(b => new ScoredBox(b, 0.9))]);
        e.Add(image2, [.. image2.Select((b, i) => new ScoredBox(b, 0.5 + i * 0.1))]);
        var r = e.Report();
        Assert.Equal(2, r.Images);
        Assert.Equal(1.0, r.Map!.Value, 12);
        Assert.Equal(1.0, r.Map50!.Value, 12);
        Assert.Equal(1.0, r.Map75!.Value, 12);
        Assert.Equal(1.0, r.Ar!.Value, 12);
        Assert.All(r.PerClass, c => Assert.Equal(1.0, c.Ap!.Value, 12));
        Assert.All(r.PerClass[1].PrecisionAt50!, p => Assert.Equal(1.0, p, 12));
        Assert.Equal(new BestF1(0.5, 1, 1, 1), r.PerClass[1].BestF1);
    }

    [Fact]
    public void No_predictions_score_zero()
    {
        var e = new DetectionEvaluator(Ab);
        e.Add([Box(0, 0, 10, 10), Box(20, 5, 40, 30, 1)], []);
        var r = e.Report();
        Assert.Equal(0, r.Map);
        Assert.Equal(0, r.Map50);
        Assert.Equal(0, r.Ar);
        Assert.Equal(2, r.ClassesEvaluated);
        Assert.All(r.PerClass, c => { Assert.Equal(0, c.Ap); Assert.Null(c.BestF1); });
    }

    [Fact]
    public void A_duplicate_detection_is_a_false_positive()
    {
        var e = new DetectionEvaluator(["a"]);
        // Order by score: hit A, duplicate of A (FP), hit B. Recall 1/2, 1/2, 1; precision 1, 1/2, 2/3, whose envelope is
        // 1 up to recall .5 (51 of the 101 points) and 2/3 beyond (50 points).
        e.Add([Box(0, 0, 10, 10), Box(20, 0, 30, 10)],
            [Pred(0, 0, 10, 10, 0.9), Pred(0, 0, 10, 10, 0.8), Pred(20, 0, 30, 10, 0.7)]);
        var r = e.Report();
        var expected = (51 + 50 * 2.0 / 3) / 101;
        Assert.Equal(expected, r.Map!.Value, 12);
        Assert.Equal(expected, r.Map50!.Value, 12);
        Assert.Equal(1.0, r.Ar!.Value, 12);
        // F1: 2/3 at .9, 1/2 at .8 (the duplicate), 4/5 at .7.
        var best = r.PerClass[0].BestF1!;
        Assert.Equal(0.7, best.Threshold);
        Assert.Equal(0.8, best.F1, 12);
        Assert.Equal(2.0 / 3, best.Precision, 12);
        Assert.Equal(1.0, best.Recall, 12);
    }

    [Fact]
    public void Detections_inside_a_crowd_region_are_ignored_and_may_share_it()
    {
        var e = new DetectionEvaluator(Ab);
        // Class a: one regular box and a crowd region; two detections inside the crowd (IoU over their own area = 1) score
        // higher than the hit but count neither way, so AP stays 1. Class b has only a crowd: no ground truth to evaluate.
        e.Add([Box(0, 0, 10, 10), Box(20, 0, 60, 40), Box(100, 100, 140, 140, 1)],
            [Pred(25, 5, 35, 15, 0.95), Pred(40, 10, 50, 20, 0.92), Pred(0, 0, 10, 10, 0.9), Pred(110, 110, 120, 120, 0.8, 1)],
            [false, true, true]);
        var r = e.Report();
        Assert.Equal(1.0, r.PerClass[0].Ap!.Value, 12);
        Assert.Equal(1, r.PerClass[0].GroundTruths);
        Assert.Equal(3, r.PerClass[0].Detections);
        Assert.Null(r.PerClass[1].Ap);
        Assert.Equal(1, r.ClassesEvaluated);
        Assert.Equal(1.0, r.Map!.Value, 12);

        // The same boxes without the crowd flag: the crowd box is an ordinary miss and the two detections are false positives.
        var plain = new DetectionEvaluator(Ab);
        plain.Add([Box(0, 0, 10, 10), Box(20, 0, 60, 40)],
            [Pred(25, 5, 35, 15, 0.95), Pred(40, 10, 50, 20, 0.92), Pred(0, 0, 10, 10, 0.9)]);
        Assert.True(plain.Report().PerClass[0].Ap < 0.5);

        // A box inside a crowd region: a detection that matches it is a hit, not absorbed by the region around it,
        // though its IoU with the region (over its own area) is 1.
        var inside = new DetectionEvaluator(["a"]);
        inside.Add([Box(0, 0, 100, 100), Box(10, 10, 30, 30)], [Pred(11, 10, 30, 30, 0.9)], [true, false]);
        Assert.Equal(1.0, inside.Report().Map!.Value, 12);
    }

    [Fact]
    public void Classes_without_ground_truth_are_left_out_and_missed_classes_score_zero()
    {
        var e = new DetectionEvaluator(["a", "b", "c"]);
        // a: found; b: ground truth, no prediction (AP 0); c: predictions only (excluded from the means).
        e.Add([Box(0, 0, 10, 10), Box(20, 20, 30, 30, 1)], [Pred(0, 0, 10, 10, 0.9), Pred(40, 40, 50, 50, 0.8, 2)]);
        var r = e.Report();
        Assert.Equal(1.0, r.PerClass[0].Ap!.Value, 12);
        Assert.Equal(0, r.PerClass[1].Ap);
        Assert.Null(r.PerClass[2].Ap);
        Assert.Equal(1, r.PerClass[2].Detections);
        Assert.Equal(2, r.ClassesEvaluated);
        Assert.Equal(0.5, r.Map!.Value, 12);
        Assert.Equal(0.5, r.Ar!.Value, 12);
    }

    [Fact]
    public void A_partial_case_matches_the_hand_computed_ap_ar_and_curve()
    {
        var e = new DetectionEvaluator(["a"]);
        // Image 1: a loose hit on g1 (IoU .64: a hit at IoU .50, .55, .60 only), an exact hit on g2, a false positive.
        e.Add([Box(0, 0, 10, 10), Box(20, 20, 30, 30)],
            [Pred(0, 0, 8, 8, 0.9), Pred(20, 20, 30, 30, 0.8), Pred(50, 50, 60, 60, 0.7)]);
        // Image 2: a missed box and the highest-scoring false positive.
        e.Add([Box(0, 0, 10, 10)], [Pred(100, 100, 110, 110, 0.95)]);
        var r = e.Report();
        // Score order FP, loose, exact, FP. At IoU <= .60: recall 0, 1/3, 2/3, 2/3 with envelope precision 2/3 up to
        // recall 2/3 (points 0..66: 67 points). Above: FP, FP, TP, FP: precision 1/3 up to recall 1/3 (34 points).
        var low = 67 * (2.0 / 3) / 101;
        var high = 34 * (1.0 / 3) / 101;
        Assert.Equal(low, r.Map50!.Value, 12);
        Assert.Equal(high, r.Map75!.Value, 12);
        Assert.Equal((3 * low + 7 * high) / 10, r.Map!.Value, 12);
        Assert.Equal((3 * 2.0 / 3 + 7 * 1.0 / 3) / 10, r.Ar!.Value, 12);
        var curve = r.PerClass[0].PrecisionAt50!;
        Assert.Equal(101, curve.Count);
        Assert.All(curve.Take(67), p => Assert.Equal(2.0 / 3, p, 12));
        Assert.All(curve.Skip(67), p => Assert.Equal(0, p));
        // F1 at IoU .5: .4 at .9, 2/3 at .8, 4/7 at .7.
        Assert.Equal(0.8, r.PerClass[0].BestF1!.Threshold);
        Assert.Equal(2.0 / 3, r.PerClass[0].BestF1!.F1, 12);
    }

    [Fact]
    public void The_report_does_not_depend_on_the_order_of_predictions_or_images()
    {
        var random = new Random(7);
        var images = Enumerable.Range(0, 12).Select(_ => RandomImage(random, 3)).ToList();
        var expected = Evaluate(images, 3).ToJson();
        for (var round = 0; round < 3; round++)
        {
            var shuffled = images.Select(i => (i.Truth, Predictions: i.Predictions.OrderBy(_ => random.Next()).ToArray()))
                .OrderBy(_ => random.Next()).ToList();
            Assert.Equal(expected, Evaluate(shuffled, 3).ToJson());
        }
    }

    [Fact]
    public void Only_the_highest_scoring_max_detections_per_image_and_class_count()
    {
        var e = new DetectionEvaluator(["a"], maxDetections: 2);
        // The hit scores lowest: cut off, so AP 0 (with maxDets 3 it would count).
        e.Add([Box(0, 0, 10, 10)], [Pred(0, 0, 10, 10, 0.1), Pred(50, 50, 60, 60, 0.9), Pred(70, 70, 80, 80, 0.8)]);
        Assert.Equal(0, e.Report().Map);
        Assert.Equal(2, e.Report().PerClass[0].Detections);
    }

    [Fact]
    public void Json_uses_snake_case_and_round_trips()
    {
        var e = new DetectionEvaluator(Ab);
        e.Add([Box(0, 0, 10, 10)], [Pred(0, 0, 10, 9, 0.9)]);
        var report = e.Report();
        var json = report.ToJson();
        foreach (var key in new[] { "\"map\"", "\"map50\"", "\"map75\"", "\"ar\"", "\"per_class\"", "\"best_f1\"", "\"precision_at50\"", "\"recall_thresholds\"", "\"ground_truths\"" })
            Assert.Contains(key, json, StringComparison.Ordinal);
        var back = DetectionReport.FromJson(json);
        Assert.Equal(report.Map, back.Map);
        Assert.Equal(report.PerClass[0].PrecisionAt50, back.PerClass[0].PrecisionAt50);
        Assert.Equal(json, back.ToJson());
    }

    [Fact]
    public void Confusion_matrix_counts_matches_misses_and_false_detections_with_background_last()
    {
        // Perfect: each box found with its class.
        Assert.Equal([[1L, 0, 0], [0, 1, 0], [0, 0, 0]], Confusion(new DetectionEvaluator(Ab),
            [Box(0, 0, 10, 10), Box(20, 20, 40, 40, 1)], [Pred(0, 0, 10, 10, 0.9), Pred(20, 20, 40, 41, 0.8, 1)]));
        // A box found with the wrong class: [a][b].
        Assert.Equal([[0L, 1, 0], [0, 0, 0], [0, 0, 0]], Confusion(new DetectionEvaluator(Ab), [Box(0, 0, 10, 10)], [Pred(0, 0, 10, 10, 0.9, 1)]));
        // A missed box: [a][background]; a prediction overlapping it below IoU .5 is a false detection as well.
        Assert.Equal([[1L, 0, 1], [0, 0, 0], [1, 0, 0]], Confusion(new DetectionEvaluator(Ab), [Box(0, 0, 10, 10), Box(20, 20, 30, 30)],
            [Pred(0, 0, 10, 10, 0.9), Pred(20, 20, 25, 25, 0.9)]));
        // False detections: at the threshold (.25) and above count in the background row; below, not at all.
        Assert.Equal([[0L, 0, 0], [0, 0, 0], [0, 2, 0]], Confusion(new DetectionEvaluator(Ab), [],
            [Pred(50, 50, 60, 60, 0.3, 1), Pred(70, 70, 80, 80, 0.25, 1), Pred(0, 0, 10, 10, 0.2)]));
        // A higher threshold leaves the .3 detection out too; and a box whose only prediction scores below it is missed.
        var strict = new DetectionEvaluator(Ab, confusionThreshold: 0.5);
        Assert.Equal([[1L, 0, 0], [0, 0, 1], [0, 0, 0]], Confusion(strict, [Box(0, 0, 10, 10), Box(20, 20, 30, 30, 1)],
            [Pred(0, 0, 10, 10, 0.6), Pred(20, 20, 30, 30, 0.3, 1), Pred(50, 50, 60, 60, 0.3, 1)]));
        Assert.Equal(0.5, strict.Report().ConfusionThreshold);
        // Crowd regions: neither a miss nor a match, and a prediction inside one is no false detection.
        Assert.Equal([[1L, 0, 0], [0, 0, 0], [0, 0, 0]], Confusion(new DetectionEvaluator(Ab),
            [Box(0, 0, 10, 10), Box(100, 100, 200, 200), Box(300, 300, 400, 400, 1)], [Pred(0, 0, 10, 10, 0.9), Pred(110, 110, 130, 130, 0.9)],
            [false, true, true]));
    }

    [Fact]
    public void Confusion_matrix_pairs_by_iou_regardless_of_class_and_score()
    {
        // Two predictions on one box: the exact one (class b, lower score) takes it; the looser one (class a, IoU .8) is
        // left over as a false detection. Pairing by score would have counted an a-a match instead.
        var e = new DetectionEvaluator(Ab);
        Assert.Equal([[0L, 1, 0], [0, 0, 0], [1, 0, 0]], Confusion(e, [Box(0, 0, 10, 10)], [Pred(0, 0, 10, 8, 0.9), Pred(0, 0, 10, 10, 0.5, 1)]));
        // Each box once: two boxes and two predictions that both overlap the first box best pair up one to one.
        var two = new DetectionEvaluator(Ab);
        Assert.Equal([[2L, 0, 0], [0, 0, 0], [0, 0, 0]], Confusion(two, [Box(0, 0, 10, 10), Box(0, 2, 10, 12)],
            [Pred(0, 0, 10, 10, 0.9), Pred(0, 1, 10, 11, 0.8)]));
    }

    [Fact]
    public void Confusion_matrix_round_trips_through_json_and_older_reports_still_read()
    {
        var e = new DetectionEvaluator(Ab);
        e.Add([Box(0, 0, 10, 10)], [Pred(0, 0, 10, 10, 0.9, 1), Pred(40, 40, 50, 50, 0.9)]);
        var report = e.Report();
        var json = report.ToJson();
        Assert.Contains("\"confusion_matrix\"", json, StringComparison.Ordinal);
        Assert.Contains("\"confusion_threshold\"", json, StringComparison.Ordinal);
        Assert.Equal(report.ConfusionMatrix, DetectionReport.FromJson(json).ConfusionMatrix);
        Assert.Equal(["a", "b", "background"], report.ConfusionClasses());

        var old = JsonNode.Parse(json)!.AsObject();
        old.Remove("confusion_matrix");
        old.Remove("confusion_threshold");
        var back = DetectionReport.FromJson(old.ToJsonString());
        Assert.Null(back.ConfusionMatrix);
        Assert.Null(back.ConfusionThreshold);
        Assert.Equal(report.Map, back.Map);
    }

    private static long[][] Confusion(DetectionEvaluator e, BoundingBox[] truth, ScoredBox[] predictions, bool[]? crowd = null)
    {
        e.Add(truth, predictions, crowd);
        return e.Report().ConfusionMatrix!;
    }

    [Fact]
    public void Bad_input_is_refused_by_name()
    {
        var e = new DetectionEvaluator(Ab);
        Assert.Throws<ArgumentOutOfRangeException>("truth", () => e.Add([Box(0, 0, 1, 1, 2)], []));
        Assert.Throws<ArgumentException>("predictions", () => e.Add([], [Pred(0, double.NaN, 1, 1, 0.5)]));
        Assert.Throws<ArgumentException>("predictions", () => e.Add([], [Pred(0, 0, 1, 1, double.NaN)]));
        Assert.Throws<ArgumentException>("crowd", () => e.Add([Box(0, 0, 1, 1)], [], [true, false]));
        Assert.Equal(0, e.Report().Images);
    }

    [Fact]
    public void Iou_thresholds_and_recall_points_are_cocos()
    {
        Assert.Equal(10, DetectionEvaluator.IouThresholds.Count);
        Assert.Equal(0.5, DetectionEvaluator.IouThresholds[0]);
        Assert.Equal(0.95, DetectionEvaluator.IouThresholds[^1]);
        Assert.Equal(0.75, DetectionEvaluator.IouThresholds[5], 15);
        Assert.Equal(101, DetectionEvaluator.RecallThresholds.Count);
        Assert.Equal(1.0, DetectionEvaluator.RecallThresholds[^1]);
        // Crowd IoU is over the detection's area; the ordinary one over the union.
        Assert.Equal(1.0, DetectionEvaluator.Iou(Box(2, 2, 4, 4), Box(0, 0, 10, 10), crowd: true));
        Assert.Equal(0.04, DetectionEvaluator.Iou(Box(2, 2, 4, 4), Box(0, 0, 10, 10)), 15);
    }

    /// <summary>
    /// 40 random cases (integer and fractional boxes, crowds, tied scores, maxDets 1..100) with the figures of COCOeval's
    /// bbox evaluate/accumulate/summarize (cocoapi's PythonAPI code, with maskApi.c's bbIou in Python: pycocotools itself
    /// is not installed here) recorded in Data/coco_reference_cases.json.
    /// </summary>
    [Fact]
    public void Random_cases_match_cocoeval()
    {
        using var cases = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "coco_reference_cases.json")));
        var n = 0;
        foreach (var c in cases.RootElement.EnumerateArray())
        {
            var classes = c.GetProperty("classes").GetInt32();
            var e = new DetectionEvaluator([.. Enumerable.Range(0, classes).Select(k => $"c{k}")], c.GetProperty("max_detections").GetInt32());
            foreach (var image in c.GetProperty("images").EnumerateArray())
            {
                var truth = image.GetProperty("truth").EnumerateArray().Select(b => Numbers(b)).ToArray();
                e.Add([.. truth.Select(b => Box(b[0], b[1], b[2], b[3], (int)b[4]))],
                    [.. image.GetProperty("predictions").EnumerateArray().Select(b => Numbers(b)).Select(b => Pred(b[0], b[1], b[2], b[3], b[5], (int)b[4]))],
                    [.. truth.Select(b => b[5] != 0)]);
            }
            var r = e.Report();
            var expected = c.GetProperty("expected");
            var context = $"case {n}";
            AssertCoco(expected.GetProperty("map").GetDouble(), r.Map, context);
            AssertCoco(expected.GetProperty("map50").GetDouble(), r.Map50, context);
            AssertCoco(expected.GetProperty("map75").GetDouble(), r.Map75, context);
            AssertCoco(expected.GetProperty("ar").GetDouble(), r.Ar, context);
            var ap = Numbers(expected.GetProperty("ap"));
            var ap50 = Numbers(expected.GetProperty("ap50"));
            for (var k = 0; k < classes; k++)
            {
                AssertCoco(ap[k], r.PerClass[k].Ap, $"{context} class {k}");
                AssertCoco(ap50[k], r.PerClass[k].Ap50, $"{context} class {k}");
            }
            if (expected.TryGetProperty("pr50", out var pr50))
            {
                var k = 0;
                foreach (var curve in pr50.EnumerateArray())
                {
                    var values = Numbers(curve);
                    if (values[0] >= 0)
                        for (var i = 0; i < values.Length; i++) Assert.True(Math.Abs(values[i] - r.PerClass[k].PrecisionAt50![i]) < 1e-12, $"{context} class {k} point {i}");
                    k++;
                }
            }
            n++;
        }
        Assert.Equal(40, n);
    }

    private static double[] Numbers(JsonElement array) => [.. array.EnumerateArray().Select(x => x.GetDouble())];

    // COCO writes -1 where nothing could be evaluated; the report leaves the figure out.
    private static void AssertCoco(double expected, double? actual, string context)
    {
        if (expected < 0) Assert.True(actual is null, $"{context}: expected no value, got {actual}");
        else Assert.True(actual is { } a && Math.Abs(a - expected) < 1e-12, $"{context}: expected {expected}, got {actual}");
    }

    internal static (BoundingBox[] Truth, ScoredBox[] Predictions) RandomImage(Random random, int classes)
    {
        var truth = Enumerable.Range(0, random.Next(0, 6)).Select(_ => RandomBox(random, classes)).ToArray();
        // Predictions near the truth (jittered), plus some anywhere; scores distinct with probability 1.
        var near = truth.Where(_ => random.NextDouble() < 0.8).Select(b =>
        {
            var j = (random.NextDouble() - 0.5) * 0.4 * b.Width;
            var k = (random.NextDouble() - 0.5) * 0.4 * b.Height;
            return new ScoredBox(b with { X1 = b.X1 + j, X2 = b.X2 + j, Y1 = b.Y1 + k, Y2 = b.Y2 + k }, random.NextDouble());
        });
        var stray = Enumerable.Range(0, random.Next(0, 4)).Select(_ => new ScoredBox(RandomBox(random, classes), random.NextDouble()));
        return (truth, [.. near, .. stray]);
    }

    private static BoundingBox RandomBox(Random random, int classes)
    {
        var x = random.NextDouble() * 80;
        var y = random.NextDouble() * 80;
        return new BoundingBox(x, y, x + 5 + random.NextDouble() * 40, y + 5 + random.NextDouble() * 40, random.Next(classes));
    }

    private static DetectionReport Evaluate(IEnumerable<(BoundingBox[] Truth, ScoredBox[] Predictions)> images, int classes)
    {
        var e = new DetectionEvaluator([.. Enumerable.Range(0, classes).Select(c => $"c{c}")]);
        foreach (var (truth, predictions) in images) e.Add(truth, predictions);
        return e.Report();
    }
}
