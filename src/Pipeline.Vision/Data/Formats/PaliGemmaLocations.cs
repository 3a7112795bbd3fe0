using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Pipeline.Vision.Data.Formats;

/// <summary>
/// PaliGemma's detection text: a prefix <c>detect a ; b</c> and a suffix of groups
/// <c>&lt;locY1&gt;&lt;locX1&gt;&lt;locY2&gt;&lt;locX2&gt; label</c> separated by <c> ; </c>, coordinates in 1024 bins
/// (<c>&lt;loc0000&gt;</c>..<c>&lt;loc1023&gt;</c>) of the image's height and width.
/// </summary>
public static partial class PaliGemmaLocations
{
    public const int Bins = 1024;
    public const string PrefixCommand = "detect";
    private const string Separator = " ; ";

    [GeneratedRegex(@"^<loc(\d{4})><loc(\d{4})><loc(\d{4})><loc(\d{4})> (\S.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex GroupPattern();

    /// <summary>The prefix listing <paramref name="classes"/>.</summary>
    public static string Prefix(IEnumerable<string> classes) => $"{PrefixCommand} {string.Join(Separator, classes)}";

    /// <summary>The class names a prefix lists, or null when it is not a detect prefix.</summary>
    public static IReadOnlyList<string>? ParsePrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (!prefix.StartsWith(PrefixCommand + " ", StringComparison.Ordinal)) return null;
        return prefix[(PrefixCommand.Length + 1)..].Split(';').Select(c => c.Trim()).Where(c => c.Length > 0).ToList();
    }

    /// <summary>The boxes of a suffix as (label, x1, y1, x2, y2) in pixels of a <paramref name="width"/> x <paramref name="height"/>
    /// image; throws <see cref="FormatException"/> saying which group is malformed.</summary>
    public static IReadOnlyList<(string Label, double X1, double Y1, double X2, double Y2)> ParseSuffix(string suffix, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(suffix);
        var result = new List<(string, double, double, double, double)>();
        if (suffix.Trim().Length == 0) return result;
        var groups = suffix.Split(Separator);
        for (var g = 0; g < groups.Length; g++)
        {
            var match = GroupPattern().Match(groups[g].Trim());
            if (!match.Success) throw new FormatException($"group {g + 1} is not <locY1><locX1><locY2><locX2> label");
            var bins = Enumerable.Range(1, 4).Select(k => int.Parse(match.Groups[k].Value, CultureInfo.InvariantCulture)).ToArray();
            if (bins.Any(b => b >= Bins)) throw new FormatException($"group {g + 1}: location bins run from 0000 to {Bins - 1}");
            result.Add((match.Groups[5].Value.Trim(), Decode(bins[1], width), Decode(bins[0], height), Decode(bins[3], width), Decode(bins[2], height)));
        }
        return result;
    }

    /// <summary>The suffix for boxes in pixels of a <paramref name="width"/> x <paramref name="height"/> image.</summary>
    public static string FormatSuffix(IEnumerable<(string Label, double X1, double Y1, double X2, double Y2)> boxes, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        var text = new StringBuilder();
        foreach (var (label, x1, y1, x2, y2) in boxes)
        {
            if (text.Length > 0) text.Append(Separator);
            text.Append(CultureInfo.InvariantCulture, $"<loc{Encode(y1, height):D4}><loc{Encode(x1, width):D4}><loc{Encode(y2, height):D4}><loc{Encode(x2, width):D4}> {label}");
        }
        return text.ToString();
    }

    /// <summary>The bin of a coordinate: the nearest of 1024 steps over <paramref name="size"/>, the last bin holding the far edge.</summary>
    public static int Encode(double value, int size) => Math.Clamp((int)Math.Round(value / size * Bins, MidpointRounding.AwayFromZero), 0, Bins - 1);

    public static double Decode(int bin, int size) => (double)bin / Bins * size;
}
