using Pipeline.Torch;
using static Pipeline.Torch.torch;

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
            return gpus > 0 ? Device.CUDA(localRank % gpus) : Device.CPU;
        Device parsed;
        try
        {
            parsed = Device.Parse(device);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"device: {e.Message}, or auto", nameof(device), e);
        }
        if (parsed.Type == DeviceType.CPU) return parsed;
        if (gpus == 0) throw new ArgumentException($"device: '{device}' asks for a GPU but this machine has no CUDA device (use auto or cpu)", nameof(device));
        if (device.Trim().Equals("cuda", StringComparison.OrdinalIgnoreCase)) return Device.CUDA(localRank % gpus);
        if (parsed.Index >= gpus) throw new ArgumentException($"device: '{device}' but this machine has {gpus} CUDA device(s)", nameof(device));
        return parsed;
    }
}
