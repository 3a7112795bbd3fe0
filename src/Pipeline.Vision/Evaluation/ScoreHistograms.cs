namespace Pipeline.Vision.Evaluation;

/// <summary>One class's one-vs-rest precision-recall figures (see <see cref="ScoreHistograms.Curve"/>).</summary>
/// <param name="Ap">average precision, scikit-learn's <c>average_precision_score</c> on the binned scores</param>
/// <param name="PrecisionAtRecall">interpolated precision at each of COCO's 101 recall points</param>
/// <param name="BestF1">the score threshold (keep scores at least it) with the highest F1</param>
public sealed record ClassCurve(double Ap, IReadOnlyList<double> PrecisionAtRecall, BestF1 BestF1);

/// <summary>
/// One-vs-rest score histograms of a classifier: for each class, how many scores for that class fell in each of
/// <see cref="Bins"/> equal-width bins over [0, 1] (the top bin includes 1), kept apart for the items of that class
/// (positives) and the others (negatives). Plain counts, so that shards (data-parallel ranks) sum to the whole; the
/// precision-recall curve of a class follows from its two histograms, each bin one operating point.
/// </summary>
public sealed class ScoreHistograms
{
    public const int DefaultBins = 1000;

    // Class-major: class c's positives at [2c * bins, (2c + 1) * bins), its negatives right after.
    private readonly long[] counts;

    public ScoreHistograms(int classes, int bins = DefaultBins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        Classes = classes;
        Bins = bins;
        counts = new long[2 * classes * bins];
    }

    public int Classes { get; }

    public int Bins { get; }

    /// <summary>How many numbers <see cref="ToFlatArray"/> gives: 2 × classes × bins.</summary>
    public int Length => counts.Length;

    /// <summary>True while no score has been added.</summary>
    public bool IsEmpty => Array.TrueForAll(counts, c => c == 0);

    /// <summary>The bin of a score: floor(score × bins), 1 in the top bin; a NaN (a diverged model) in the lowest.</summary>
    public int Bin(double score) => score >= 1 ? Bins - 1 : score > 0 ? Math.Min((int)(score * Bins), Bins - 1) : 0;

    /// <summary>Adds items: <paramref name="scores"/> row-major (items × classes, e.g. softmax probabilities) and their labels.</summary>
    public void Add(ReadOnlySpan<double> scores, ReadOnlySpan<long> labels)
    {
        if (scores.Length != labels.Length * Classes)
            throw new ArgumentException($"{labels.Length} labels need {labels.Length * Classes} scores, got {scores.Length}", nameof(scores));
        for (var n = 0; n < labels.Length; n++)
        {
            if (labels[n] < 0 || labels[n] >= Classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[n], $"a label must be in [0, {Classes})");
            for (var c = 0; c < Classes; c++)
                counts[(2 * c + (labels[n] == c ? 0 : 1)) * Bins + Bin(scores[n * Classes + c])]++;
        }
    }

    /// <summary>Every count, class-major (positives then negatives), e.g. for an all-reduce across ranks.</summary>
    public long[] ToFlatArray() => (long[])counts.Clone();

    public static ScoreHistograms FromFlatArray(int classes, ReadOnlySpan<long> flat, int bins = DefaultBins)
    {
        var histograms = new ScoreHistograms(classes, bins);
        if (flat.Length != histograms.Length) throw new ArgumentException($"{classes} classes of {bins} bins need {histograms.Length} counts, got {flat.Length}", nameof(flat));
        flat.CopyTo(histograms.counts);
        return histograms;
    }

    /// <summary>
    /// Class <paramref name="c"/>'s one-vs-rest figures, or null when it has no positive item. Bins are walked from the
    /// highest score down, each non-empty bin one operating point (its lower edge the threshold, so that the items of a
    /// bin count as tied scores) with cumulative true and false positives. AP is scikit-learn's
    /// <c>average_precision_score</c> (the sum over operating points of the recall step times the precision there, with
    /// no interpolation) on the binned scores; the curve is COCO's: the precision envelope at 101 recall points.
    /// </summary>
    public ClassCurve? Curve(int c)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(c, Classes);
        var positives = counts.AsSpan(2 * c * Bins, Bins);
        var negatives = counts.AsSpan((2 * c + 1) * Bins, Bins);
        double total = 0;
        foreach (var p in positives) total += p;
        if (total == 0) return null;
        var recall = new List<double>();
        var precision = new List<double>();
        double tp = 0, fp = 0, ap = 0, previousRecall = 0;
        BestF1? best = null;
        for (var b = Bins - 1; b >= 0; b--)
        {
            if (positives[b] == 0 && negatives[b] == 0) continue;
            tp += positives[b];
            fp += negatives[b];
            var r = tp / total;
            var p = tp / (tp + fp);
            ap += (r - previousRecall) * p;
            previousRecall = r;
            recall.Add(r);
            precision.Add(p);
            if (tp == 0) continue;
            var f1 = 2 * p * r / (p + r);
            if (best is null || f1 > best.F1) best = new BestF1((double)b / Bins, f1, p, r);
        }
        // Every positive lies in some bin, so the lowest non-empty bin has tp > 0: best is set.
        return new ClassCurve(ap, PrecisionRecallCurve.Interpolate(recall, precision, PrecisionRecallCurve.RecallPoints), best!);
    }
}
