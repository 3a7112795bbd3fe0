using System.Globalization;

namespace Pipeline.Vision;

/// <summary>
/// The intra-op thread count a launcher gives each process it starts: N ranks on one machine share its cores
/// (<c>pipeline train --nproc N</c> sets cores/N), where libtorch's default, every core in every rank, would
/// oversubscribe them and make N ranks slower than one.
/// </summary>
public static class TorchThreads
{
    public const string Variable = "PIPELINE_TORCH_THREADS";

    /// <summary>Applies <see cref="Variable"/> when it is set to a positive number; returns libtorch's thread count.</summary>
    public static int Apply()
    {
        var value = Environment.GetEnvironmentVariable(Variable);
        if (value is not null)
        {
            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var threads) || threads < 1)
                throw new ArgumentException($"{Variable}={value}: expected a positive whole number of intra-op threads");
            TorchSharp.torch.set_num_threads(threads);
        }
        return TorchSharp.torch.get_num_threads();
    }
}
