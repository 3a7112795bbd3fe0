namespace Pipeline.Vision.Evaluation;

/// <summary>
/// What the detection and classification evaluators share about precision-recall curves: COCO's 101 recall points and
/// its interpolated precision (the precision envelope sampled at those points).
/// </summary>
internal static class PrecisionRecallCurve
{
    /// <summary>COCO's 101 recall points 0:.01:1, as numpy's linspace computes them.</summary>
    public static readonly IReadOnlyList<double> RecallPoints = Linspace(0, 1, 101);

    /// <summary>
    /// The interpolated precision at each of <paramref name="points"/>: the operating points (<paramref name="recall"/>
    /// non-decreasing, with their <paramref name="precision"/>) are replaced by their envelope (each the best precision at
    /// its recall or beyond, in place), and each point takes the envelope at the first operating point reaching it; 0
    /// where the recall is never reached. COCOeval's <c>accumulate</c>.
    /// </summary>
    public static double[] Interpolate(List<double> recall, List<double> precision, IReadOnlyList<double> points)
    {
        for (var i = precision.Count - 1; i > 0; i--)
            if (precision[i] > precision[i - 1]) precision[i - 1] = precision[i];
        var sampled = new double[points.Count];
        for (var r = 0; r < points.Count; r++)
        {
            var at = LowerBound(recall, points[r]);
            if (at >= precision.Count) break; // recall never reached: precision 0 from here on
            sampled[r] = precision[at];
        }
        return sampled;
    }

    /// <summary>numpy's <c>linspace</c>, the last value exactly <paramref name="stop"/>.</summary>
    public static double[] Linspace(double start, double stop, int count)
    {
        var step = (stop - start) / (count - 1);
        var values = new double[count];
        for (var i = 0; i < count; i++) values[i] = i * step + start;
        values[^1] = stop;
        return values;
    }

    private static int LowerBound(List<double> sorted, double value)
    {
        int lo = 0, hi = sorted.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < value) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
