using System.Globalization;
using System.Text.Json;
using Pipeline.Testing;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

public class ClassificationMetricsTests
{
    private static readonly string[] Abc = ["a", "b", "c"];

    // truth 0 0 0 1 1 2, predicted 0 0 1 1 2 2: rows (truth) [2 1 0] [0 1 1] [0 0 1].
    private static readonly long[] Truth = [0, 0, 0, 1, 1, 2];
    private static readonly long[] Predicted = [0, 0, 1, 1, 2, 2];

    [Fact]
    public void Confusion_matrix_rows_are_truth_and_columns_predictions()
    {
        var m = new ConfusionMatrix(3);
        m.Add(Truth, Predicted);
        Assert.Equal([[2L, 1, 0], [0, 1, 1], [0, 0, 1]], m.ToRows());
        Assert.Equal(6, m.Total);
        Assert.Equal(4, m.Correct());
    }

    [Fact]
    public void Per_class_precision_recall_f1_and_support_match_the_hand_computed_values()
    {
        var r = ClassificationReport.From(Truth, Predicted, Abc);
        Assert.Equal(4.0 / 6, r.Accuracy, 12);
        // a: P = 2/2, R = 2/3, F1 = 0.8;  b: P = 1/2, R = 1/2, F1 = 0.5;  c: P = 1/2, R = 1/1, F1 = 2/3.
        AssertClass(r.PerClass[0], "a", 1.0, 2.0 / 3, 0.8, 3);
        AssertClass(r.PerClass[1], "b", 0.5, 0.5, 0.5, 2);
        AssertClass(r.PerClass[2], "c", 0.5, 1.0, 2.0 / 3, 1);
        Assert.Equal((0.8 + 0.5 + 2.0 / 3) / 3, r.MacroF1, 12);
        Assert.Equal((0.8 * 3 + 0.5 * 2 + 2.0 / 3) / 6, r.WeightedF1, 12);
        Assert.Equal((1.0 + 0.5 + 0.5) / 3, r.MacroPrecision, 12);
    }

    [Fact]
    public void A_class_never_predicted_and_never_present_scores_zero_not_nan()
    {
        var r = ClassificationReport.From([0, 1], [0, 0], Abc);
        Assert.Equal(0.5, r.PerClass[0].Precision, 12);
        Assert.Equal(0, r.PerClass[1].Precision);
        Assert.Equal(0, r.PerClass[1].F1);
        Assert.Equal(0, r.PerClass[2].Recall);
        Assert.Equal(0, r.PerClass[2].Support);
        Assert.False(double.IsNaN(r.MacroF1));
    }

    [Fact]
    public void Top_k_counts_a_label_within_the_k_highest_logits()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[]
        {
            0.1f, 0.5f, 0.3f, 0.2f, // label 2 ranks second
            0.9f, 0.05f, 0.03f, 0.02f, // label 0 ranks first
            0.1f, 0.2f, 0.3f, 0.4f, // label 0 ranks last
        }, [3, 4]);
        var evaluator = new ClassificationEvaluator(["w", "x", "y", "z"], 1, 2, 3, 7);
        evaluator.Update(logits, tensor(new long[] { 2, 0, 0 }), lossSum: 3.0);
        var r = evaluator.Report();
        Assert.Equal(1.0 / 3, r.Accuracy, 12);
        Assert.Equal([1, 2, 3], r.TopK.Keys);
        Assert.Equal(1.0 / 3, r.TopK[1], 12);
        Assert.Equal(2.0 / 3, r.TopK[2], 12);
        Assert.Equal(2.0 / 3, r.TopK[3], 12);
        Assert.Equal(1.0, r.Loss);
    }

    [Fact]
    public void Counts_of_two_shards_sum_to_the_counts_of_the_whole()
    {
        var whole = new ClassificationEvaluator(Abc, 1);
        whole.Update(Truth, Predicted);
        var first = new ClassificationEvaluator(Abc, 1);
        first.Update(Truth.AsSpan(0, 2), Predicted.AsSpan(0, 2));
        var second = new ClassificationEvaluator(Abc, 1);
        second.Update(Truth.AsSpan(2), Predicted.AsSpan(2));
        var summed = first.Counts().Zip(second.Counts(), (x, y) => x + y).ToArray();
        var merged = new ClassificationEvaluator(Abc, 1);
        merged.SetCounts(summed);
        Assert.Equal(whole.Report().ToJson(), merged.Report().ToJson());
    }

    [Fact]
    public void The_report_round_trips_through_json_with_snake_case_keys()
    {
        var r = ClassificationReport.From(Truth, Predicted, Abc);
        var json = r.ToJson();
        Assert.Contains("\"confusion_matrix\"", json, StringComparison.Ordinal);
        Assert.Contains("\"per_class\"", json, StringComparison.Ordinal);
        Assert.Contains("\"macro_f1\"", json, StringComparison.Ordinal);
        var back = ClassificationReport.FromJson(json);
        Assert.Equal(r.Accuracy, back.Accuracy);
        Assert.Equal(r.ConfusionMatrix, back.ConfusionMatrix);
        Assert.Equal(r.PerClass, back.PerClass);
    }

    [Fact]
    public void One_vs_rest_ap_curve_and_best_f1_match_the_hand_computed_values()
    {
        // Class a's scores with 10 bins: positives .95, .55, .10; negatives .85, .52 (.55 and .52 share bin 5: a tie).
        // From the top: bin 9 (TP 1, FP 0), bin 8 (1, 1), bin 5 (2, 2), bin 1 (3, 2): recall 1/3, 1/3, 2/3, 1 at precision
        // 1, 1/2, 1/2, 3/5. AP = 1/3 * 1 + 0 + 1/3 * 1/2 + 1/3 * 3/5 = 0.7. F1 .5, .4, 4/7, .75: best at threshold .1.
        var histograms = new ScoreHistograms(2, bins: 10);
        histograms.Add([0.95, 0.05, 0.85, 0.15, 0.55, 0.45, 0.52, 0.48, 0.10, 0.90], [0, 1, 0, 1, 0]);
        var a = histograms.Curve(0)!;
        Assert.Equal(0.7, a.Ap, 12);
        Assert.Equal(0.1, a.BestF1.Threshold);
        Assert.Equal(0.75, a.BestF1.F1, 12);
        Assert.Equal(0.6, a.BestF1.Precision, 12);
        Assert.Equal(1.0, a.BestF1.Recall, 12);
        // Precision envelope 1, .6, .6, .6: 1 up to recall 1/3 (points 0..33), .6 beyond.
        Assert.Equal(101, a.PrecisionAtRecall.Count);
        Assert.All(a.PrecisionAtRecall.Take(34), p => Assert.Equal(1.0, p, 12));
        Assert.All(a.PrecisionAtRecall.Skip(34), p => Assert.Equal(0.6, p, 12));
        // A score of exactly 1 falls in the top bin, 0 and NaN in the lowest.
        Assert.Equal(9, histograms.Bin(1.0));
        Assert.Equal(0, histograms.Bin(0));
        Assert.Equal(0, histograms.Bin(double.NaN));
        Assert.Null(new ScoreHistograms(2, bins: 10).Curve(1));
    }

    /// <summary>
    /// Random logits (5 classes, the last never a label) through <see cref="ClassificationEvaluator.Update(TorchSharp.torch.Tensor, TorchSharp.torch.Tensor, double?)"/>
    /// against numpy: softmax, 1000 bins, scikit-learn's average precision over the distinct binned scores (its
    /// <c>_binary_clf_curve</c> by sorting, not by histograms), COCO's interpolated precision and the F1-optimal threshold.
    /// </summary>
    [Fact]
    public void Classification_pr_figures_match_numpy_on_random_scores()
    {
        const int items = 600, classes = 5;
        var random = new Random(11);
        var labels = Enumerable.Range(0, items).Select(_ => (long)random.Next(classes - 1)).ToArray();
        var logits = new float[items * classes];
        for (var n = 0; n < items; n++)
            for (var c = 0; c < classes; c++)
                logits[n * classes + c] = (float)(random.NextDouble() * 4 - 2 + (labels[n] == c ? random.NextDouble() * 3 : 0));
        var names = Enumerable.Range(0, classes).Select(c => $"c{c}").ToArray();
        var evaluator = new ClassificationEvaluator(names, 1);
        using (var scope = NewDisposeScope())
            evaluator.Update(tensor(logits, [items, classes]), tensor(labels));
        var report = evaluator.Report();

        using var folder = new TempFolder();
        var input = folder.Write("scores.json", JsonSerializer.Serialize(new { classes, logits = logits.Select(v => v.ToString(CultureInfo.InvariantCulture)), labels }));
        var output = folder.File("expected.json");
        Python3Script.Run(folder.Write("reference.py", NumpyReference), [input, output]);
        using var expected = JsonDocument.Parse(File.ReadAllText(output));
        var perClass = expected.RootElement.GetProperty("per_class").EnumerateArray().ToArray();
        for (var c = 0; c < classes; c++)
        {
            var actual = report.PerClass[c];
            if (perClass[c].ValueKind == JsonValueKind.Null)
            {
                Assert.Null(actual.Ap);
                Assert.Null(actual.PrecisionAtRecall);
                Assert.Null(actual.BestF1);
                continue;
            }
            Assert.Equal(perClass[c].GetProperty("ap").GetDouble(), actual.Ap!.Value, 12);
            var curve = perClass[c].GetProperty("curve").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            Assert.Equal(101, actual.PrecisionAtRecall!.Count);
            for (var k = 0; k < curve.Length; k++) Assert.True(Math.Abs(curve[k] - actual.PrecisionAtRecall[k]) < 1e-12, $"class {c} point {k}");
            Assert.Equal(perClass[c].GetProperty("threshold").GetDouble(), actual.BestF1!.Threshold);
            Assert.Equal(perClass[c].GetProperty("f1").GetDouble(), actual.BestF1.F1, 12);
            // The figures are not trivial: the classes are told apart, imperfectly.
            Assert.InRange(actual.Ap.Value, 0.3, 0.99);
        }
        Assert.Equal(expected.RootElement.GetProperty("mean_ap").GetDouble(), report.MeanAp!.Value, 12);
        Assert.Equal(101, report.RecallThresholds!.Count);
    }

    private const string NumpyReference = """
        import json, sys
        import numpy as np
        data = json.load(open(sys.argv[1]))
        classes = data["classes"]
        logits = np.array([float(v) for v in data["logits"]], dtype=np.float32).astype(np.float64).reshape(-1, classes)
        labels = np.array(data["labels"])
        bins = 1000
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        p = z / z.sum(axis=1, keepdims=True)
        binned = np.minimum(np.floor(p * bins), bins - 1).astype(np.int64)
        points = np.linspace(0, 1, 101)
        out = []
        for c in range(classes):
            y = labels == c
            if not y.any():
                out.append(None)
                continue
            order = np.argsort(-binned[:, c], kind="mergesort")
            s, t = binned[order, c], y[order]
            last = np.r_[np.where(np.diff(s))[0], len(s) - 1]
            tp = np.cumsum(t)[last].astype(np.float64)
            fp = (last + 1).astype(np.float64) - tp
            precision = tp / (tp + fp)
            recall = tp / t.sum()
            ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
            envelope = np.maximum.accumulate(precision[::-1])[::-1]
            at = np.searchsorted(recall, points, side="left")
            curve = [float(envelope[i]) if i < len(envelope) else 0.0 for i in at]
            f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), -1.0)
            best = int(np.argmax(f1))
            out.append({"ap": ap, "curve": curve, "threshold": float(s[last][best]) / bins, "f1": float(f1[best])})
        json.dump({"per_class": out, "mean_ap": float(np.mean([o["ap"] for o in out if o is not None]))}, open(sys.argv[2], "w"))
        """;

    [Fact]
    public void Score_histograms_of_two_shards_sum_to_those_of_the_whole()
    {
        using var scope = NewDisposeScope();
        var random = new Random(5);
        var logits = Enumerable.Range(0, 40 * 3).Select(_ => (float)(random.NextDouble() * 6 - 3)).ToArray();
        var labels = Enumerable.Range(0, 40).Select(_ => (long)random.Next(3)).ToArray();
        var whole = new ClassificationEvaluator(Abc, 1, 2);
        whole.Update(tensor(logits, [40, 3]), tensor(labels), lossSum: 12);
        var first = new ClassificationEvaluator(Abc, 1, 2);
        first.Update(tensor(logits[..(15 * 3)], [15, 3]), tensor(labels[..15]), lossSum: 5);
        var second = new ClassificationEvaluator(Abc, 1, 2);
        second.Update(tensor(logits[(15 * 3)..], [25, 3]), tensor(labels[15..]), lossSum: 7);
        var merged = new ClassificationEvaluator(Abc, 1, 2);
        merged.SetCounts(first.Counts().Zip(second.Counts(), (x, y) => x + y).ToArray());
        var report = merged.Report();
        Assert.NotNull(report.MeanAp);
        Assert.All(report.PerClass, c => Assert.NotNull(c.PrecisionAtRecall));
        Assert.Equal(whole.Report().ToJson(), report.ToJson());
        // The counts grew by both histograms of every class; a vector of the old length is refused.
        Assert.Equal(9 + 2 + 2 * ScoreHistograms.DefaultBins * 3 + 2, whole.Counts().Length);
        Assert.Throws<ArgumentException>("counts", () => merged.SetCounts(new double[9 + 2 + 2]));
    }

    [Fact]
    public void Labels_without_scores_give_no_pr_figures()
    {
        var evaluator = new ClassificationEvaluator(Abc, 1);
        evaluator.Update(Truth, Predicted);
        var r = evaluator.Report();
        Assert.Null(r.MeanAp);
        Assert.Null(r.RecallThresholds);
        Assert.All(r.PerClass, c => { Assert.Null(c.Ap); Assert.Null(c.PrecisionAtRecall); Assert.Null(c.BestF1); });
        var json = r.ToJson();
        Assert.DoesNotContain("\"mean_ap\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\"precision_at_recall\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Pr_figures_round_trip_through_json_and_reports_without_them_still_read()
    {
        using var scope = NewDisposeScope();
        var evaluator = new ClassificationEvaluator(Abc, 1);
        evaluator.Update(tensor(new float[] { 2, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 3 }, [4, 3]), tensor(new long[] { 0, 1, 2, 2 }));
        var r = evaluator.Report();
        var json = r.ToJson();
        foreach (var key in new[] { "\"mean_ap\"", "\"recall_thresholds\"", "\"ap\"", "\"precision_at_recall\"", "\"best_f1\"" })
            Assert.Contains(key, json, StringComparison.Ordinal);
        var back = ClassificationReport.FromJson(json);
        Assert.Equal(r.MeanAp, back.MeanAp);
        Assert.Equal(r.PerClass[2].PrecisionAtRecall, back.PerClass[2].PrecisionAtRecall);
        Assert.Equal(r.PerClass[2].BestF1, back.PerClass[2].BestF1);
        Assert.Equal(json, back.ToJson());

        // A report as stored before PR curves existed.
        var old = ClassificationReport.FromJson("""
            {"count": 2, "accuracy": 0.5, "top_k": {"1": 0.5}, "macro_precision": 0.25, "macro_recall": 0.5, "macro_f1": 0.33,
             "weighted_f1": 0.33, "per_class": [{"class": "a", "precision": 0.5, "recall": 1, "f1": 0.67, "support": 1},
             {"class": "b", "precision": 0, "recall": 0, "f1": 0, "support": 1}], "classes": ["a", "b"],
             "confusion_matrix": [[1, 0], [1, 0]]}
            """);
        Assert.Null(old.MeanAp);
        Assert.Null(old.RecallThresholds);
        Assert.Null(old.PerClass[0].Ap);
        Assert.Equal(1, old.PerClass[0].Support);
    }

    [Fact]
    public void A_label_outside_the_classes_is_refused()
    {
        var m = new ConfusionMatrix(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Add(3, 0));
    }

    private static void AssertClass(ClassMetrics m, string name, double precision, double recall, double f1, long support)
    {
        Assert.Equal(name, m.Class);
        Assert.Equal(precision, m.Precision, 12);
        Assert.Equal(recall, m.Recall, 12);
        Assert.Equal(f1, m.F1, 12);
        Assert.Equal(support, m.Support);
    }
}
