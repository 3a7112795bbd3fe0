using Pipeline.Torch;
using static Pipeline.Torch.torch;

namespace Pipeline.Vision.Evaluation;

/// <summary>
/// Accumulates a classifier's predictions batch by batch (logits and labels, or predicted labels) and produces a
/// <see cref="ClassificationReport"/>. Its counts are plain numbers (<see cref="Counts"/>), so shards can be summed.
/// </summary>
public sealed class ClassificationEvaluator
{
    private readonly IReadOnlyList<string> classes;
    private readonly int[] topK;
    private ConfusionMatrix matrix;
    private long[] topKHits;
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
        if (topK.Length > 0)
        {
            // One topk for the largest k: a label is in the top k when it is among the first k ranked indices.
            var ranked = logits.topk(topK[^1], 1).indices.cpu().ToArray<long>();
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

    /// <summary>Adds predicted against true labels (no top-k beyond 1 for these).</summary>
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

    /// <summary>Every count as one vector (confusion matrix, top-k hits, loss sum, loss count): what ranks all-reduce.</summary>
    public double[] Counts() =>
        [.. matrix.ToFlatArray().Select(c => (double)c), .. topKHits.Select(c => (double)c), lossSum, lossCount];

    /// <summary>Replaces the counts by <paramref name="counts"/> (e.g. the sum over ranks of <see cref="Counts"/>).</summary>
    public void SetCounts(ReadOnlySpan<double> counts)
    {
        var cells = classes.Count * classes.Count;
        if (counts.Length != cells + topK.Length + 2) throw new ArgumentException($"expected {cells + topK.Length + 2} counts, got {counts.Length}", nameof(counts));
        matrix = ConfusionMatrix.FromFlatArray(classes.Count, counts[..cells].ToArray().Select(c => (long)c).ToArray());
        topKHits = counts.Slice(cells, topK.Length).ToArray().Select(c => (long)c).ToArray();
        lossSum = counts[^2];
        lossCount = (long)counts[^1];
    }

    public ClassificationReport Report()
    {
        var hits = new Dictionary<int, long>();
        for (var j = 0; j < topK.Length; j++) hits[topK[j]] = topKHits[j];
        return ClassificationReport.From(matrix, classes, hits, lossCount == 0 ? null : lossSum / lossCount);
    }
}
