namespace Pipeline.Vision.Sampling;

/// <summary>
/// Derives independent, reproducible seeds from a base seed and counters (epoch, item index) with SplitMix64, so that
/// every epoch and item gets its own stream whatever the order or number of workers. (.NET's HashCode is randomized
/// per process and cannot be used for this.)
/// </summary>
public static class SeedMix
{
    public static int Combine(long seed, params long[] counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        var state = (ulong)seed;
        foreach (var counter in counters) state = Mix(state ^ Mix((ulong)counter + 0x9E3779B97F4A7C15UL));
        return (int)(Mix(state) >> 33);
    }

    /// <summary>A generator for one (seed, counters) stream.</summary>
    public static Random Random(long seed, params long[] counters) => new(Combine(seed, counters));

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
