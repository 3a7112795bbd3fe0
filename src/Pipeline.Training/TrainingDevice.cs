using System.Globalization;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// The device a recipe's <c>device</c> names for one rank: <c>auto</c> is the rank's GPU when the machine has any (rank
/// <c>LOCAL_RANK</c> takes GPU <c>LOCAL_RANK mod count</c>, as torchrun's convention) and the CPU otherwise; <c>cuda</c>
/// is the rank's GPU and an error without one; <c>cuda:N</c> and <c>cpu</c> are taken as they are.
/// </summary>
public static class TrainingDevice
{
    public static Device Resolve(string device, int localRank = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegative(localRank);
        var gpus = cuda.is_available() ? cuda.device_count() : 0;
        if (device.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase))
            return gpus > 0 ? torch.device(DeviceType.CUDA, localRank % gpus) : CPU;
        Device parsed;
        try
        {
            parsed = Parse(device);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"device: {e.Message}, or auto", nameof(device), e);
        }
        if (parsed.type == DeviceType.CPU) return parsed;
        if (gpus == 0) throw new ArgumentException($"device: '{device}' asks for a GPU but this machine has no CUDA device (use auto or cpu)", nameof(device));
        if (device.Trim().Equals("cuda", StringComparison.OrdinalIgnoreCase)) return torch.device(DeviceType.CUDA, localRank % gpus);
        if (parsed.index >= gpus) throw new ArgumentException($"device: '{device}' but this machine has {gpus} CUDA device(s)", nameof(device));
        return parsed;
    }

    /// <summary>A device name as PyTorch writes it: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    /// <exception cref="FormatException">any other text</exception>
    public static Device Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var name = text.Trim().ToLowerInvariant();
        if (name == "cpu") return CPU;
        if (name == "cuda") return device(DeviceType.CUDA, 0);
        if (name.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            return device(DeviceType.CUDA, index);
        throw new FormatException($"unknown device '{text}': cpu, cuda or cuda:N");
    }
}
