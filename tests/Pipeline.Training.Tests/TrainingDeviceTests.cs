using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

public class TrainingDeviceTests
{
    [Fact]
    public void Devices_follow_the_recipe_and_the_local_rank()
    {
        Assert.Equal(CPU, TrainingDevice.Resolve("cpu", 3));
        if (cuda.is_available())
        {
            var gpus = cuda.device_count();
            Assert.Equal($"cuda:{3 % gpus}", TrainingDevice.Resolve("auto", 3).ToString());
            Assert.Equal($"cuda:{1 % gpus}", TrainingDevice.Resolve("cuda", 1).ToString());
            Assert.Contains($"{gpus} CUDA device", Assert.Throws<ArgumentException>(() => TrainingDevice.Resolve($"cuda:{gpus}")).Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(CPU, TrainingDevice.Resolve("auto", 1));
            Assert.Contains("no CUDA device", Assert.Throws<ArgumentException>(() => TrainingDevice.Resolve("cuda", 0)).Message, StringComparison.Ordinal);
            Assert.Contains("no CUDA device", Assert.Throws<ArgumentException>(() => TrainingDevice.Resolve("cuda:1", 0)).Message, StringComparison.Ordinal);
        }
        Assert.Contains("unknown device 'tpu'", Assert.Throws<ArgumentException>(() => TrainingDevice.Resolve("tpu")).Message, StringComparison.Ordinal);
    }
}
