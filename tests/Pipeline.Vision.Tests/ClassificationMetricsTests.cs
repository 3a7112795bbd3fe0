using Pipeline.Vision.Evaluation;
using static Pipeline.Torch.torch;

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
