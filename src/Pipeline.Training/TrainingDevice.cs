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
        (DeviceType Type, int? Index) parsed;
        try
        {
            parsed = ParseName(device);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"device: {e.Message}, or auto", nameof(device), e);
        }
        if (parsed.Type == DeviceType.CPU) return CPU;
        // Checked before a CUDA device is made: TorchSharp's CPU build refuses to make one at all.
        if (gpus == 0) throw new ArgumentException($"device: '{device}' asks for a GPU but this machine has no CUDA device (use auto or cpu)", nameof(device));
        var index = parsed.Index ?? localRank % gpus;
        if (index >= gpus) throw new ArgumentException($"device: '{device}' but this machine has {gpus} CUDA device(s)", nameof(device));
        return torch.device(DeviceType.CUDA, index);
    }

    /// <summary>A device name as PyTorch writes it: <c>cpu</c>, <c>cuda</c> (GPU 0) or <c>cuda:N</c>.</summary>
    /// <exception cref="FormatException">any other text</exception>
    public static Device Parse(string text)
    {
        var (type, index) = ParseName(text);
        return type == DeviceType.CPU ? CPU : torch.device(type, index ?? 0);
    }

    /// <summary>Whether <paramref name="text"/> names a device (cpu, cuda, cuda:N), whether or not this machine has it.</summary>
    public static bool IsDeviceName(string text)
    {
        try
        {
            ParseName(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static (DeviceType Type, int? Index) ParseName(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var name = text.Trim().ToLowerInvariant();
        if (name == "cpu") return (DeviceType.CPU, null);
        if (name == "cuda") return (DeviceType.CUDA, null);
        if (name.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            return (DeviceType.CUDA, index);
        throw new FormatException($"unknown device '{text}': cpu, cuda or cuda:N");
    }
}
