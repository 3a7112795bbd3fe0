using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Evaluation;

/// <summary>
/// Accumulates a classifier's predictions batch by batch (logits and labels, or predicted labels) and produces a
/// <see cref="ClassificationReport"/>. Its counts are plain numbers (<see cref="Counts"/>), so shards can be summed:
/// the confusion matrix, top-k hits, the loss and, from logits, one-vs-rest histograms of the softmax probabilities
/// (<see cref="ScoreHistograms"/>, <see cref="ScoreHistograms.DefaultBins"/> bins) that give each class's PR curve.
/// </summary>
public sealed class ClassificationEvaluator
{
    private readonly IReadOnlyList<string> classes;
    private readonly int[] topK;
    private ConfusionMatrix matrix;
    private long[] topKHits;
    private ScoreHistograms scores;
    private double lossSum;
    private long lossCount;

    /// <param name="classes">class names, indexed by label</param>
    /// <param name="topK">the ks to report top-k accuracy for (ks above the class count are left out)</param>
    public ClassificationEvaluator(IReadOnlyList<string> classes, params int[] topK)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(topK);
        this.classes = classes;
        this.topK = [.. topK.Where(k => k >= 1 && k <= classes.Count).Distinct().Order()];
        matrix = new ConfusionMatrix(classes.Count);
        topKHits = new long[this.topK.Length];
        scores = new ScoreHistograms(classes.Count);
    }

    /// <summary>Adds a batch: logits (N, classes) and int64 labels (N); optionally the batch's summed loss.</summary>
    public void Update(Tensor logits, Tensor labels, double? lossSum = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.dim() != 2 || logits.shape[1] != classes.Count)
            throw new ArgumentException($"logits must be (N, {classes.Count}), got [{string.Join(", ", logits.shape)}]", nameof(logits));
        using var scope = NewDisposeScope();
        var truth = labels.cpu().to(int64).ToArray<long>();
        if (truth.Length != logits.shape[0]) throw new ArgumentException($"{truth.Length} labels for {logits.shape[0]} rows of logits", nameof(labels));
        var predicted = logits.argmax(1).cpu().ToArray<long>();
        matrix.Add(truth, predicted);
        scores.Add(logits.softmax(1, float64).cpu().ToArray<double>(), truth);
        if (topK.Length > 0)
        {
            // One topk for the largest k: a label is in the top k when it is among the first k ranked indices.
            var ranked = logits.topk(topK[^1], 1).indexes.cpu().ToArray<long>();
            var width = topK[^1];
            for (var n = 0; n < truth.Length; n++)
            {
                var rank = Array.IndexOf(ranked, truth[n], n * width, width);
                if (rank < 0) continue;
                rank -= n * width;
                for (var j = 0; j < topK.Length; j++)
                    if (rank < topK[j]) topKHits[j]++;
            }
        }
        if (lossSum is { } loss) AddLoss(loss, truth.Length);
    }

    /// <summary>Adds predicted against true labels (no top-k beyond 1 for these, and no scores for PR curves).</summary>
    public void Update(ReadOnlySpan<long> truth, ReadOnlySpan<long> predicted)
    {
        matrix.Add(truth, predicted);
        for (var n = 0; n < truth.Length; n++)
            if (truth[n] == predicted[n])
                for (var j = 0; j < topK.Length; j++) topKHits[j]++;
    }

    public void AddLoss(double sum, long items)
    {
        lossSum += sum;
        lossCount += items;
    }

    /// <summary>
    /// Every count as one vector (confusion matrix, top-k hits, score histograms, loss sum, loss count): what ranks
    /// all-reduce. Doubles hold counts exactly up to 2^53.
    /// </summary>
    public double[] Counts() =>
        [.. matrix.ToFlatArray().Select(c => (double)c), .. topKHits.Select(c => (double)c), .. scores.ToFlatArray().Select(c => (double)c), lossSum, lossCount];

    /// <summary>Replaces the counts by <paramref name="counts"/> (e.g. the sum over ranks of <see cref="Counts"/>).</summary>
    public void SetCounts(ReadOnlySpan<double> counts)
    {
        var cells = classes.Count * classes.Count;
        var bins = scores.Length;
        var expected = cells + topK.Length + bins + 2;
        if (counts.Length != expected) throw new ArgumentException($"expected {expected} counts, got {counts.Length}", nameof(counts));
        matrix = ConfusionMatrix.FromFlatArray(classes.Count, Longs(counts[..cells]));
        topKHits = Longs(counts.Slice(cells, topK.Length));
        scores = ScoreHistograms.FromFlatArray(classes.Count, Longs(counts.Slice(cells + topK.Length, bins)));
        lossSum = counts[^2];
        lossCount = (long)counts[^1];
    }

    public ClassificationReport Report()
    {
        var hits = new Dictionary<int, long>();
        for (var j = 0; j < topK.Length; j++) hits[topK[j]] = topKHits[j];
        return ClassificationReport.From(matrix, classes, hits, lossCount == 0 ? null : lossSum / lossCount, scores);
    }

    private static long[] Longs(ReadOnlySpan<double> counts)
    {
        var longs = new long[counts.Length];
        for (var k = 0; k < counts.Length; k++) longs[k] = (long)counts[k];
        return longs;
    }
}
