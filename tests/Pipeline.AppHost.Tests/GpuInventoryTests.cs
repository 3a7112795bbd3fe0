using Pipeline.AppHost.Hosting;

namespace Pipeline.AppHost.Tests;

public sealed class GpuInventoryTests
{
    [Fact]
    public void Replicas_take_the_visible_gpus_round_robin_and_none_without_gpus()
    {
        var driver = Directory.CreateTempSubdirectory("nvidia-gpus-");
        try
        {
            Assert.Empty(GpuInventory.Visible(null, Path.Combine(driver.FullName, "absent")));
            foreach (var bus in (string[])["0000:01:00.0", "0000:41:00.0", "0000:81:00.0"])
            {
                driver.CreateSubdirectory(bus);
            }
            var gpus = GpuInventory.Visible(null, driver.FullName);
            Assert.Equal(["0", "1", "2"], gpus);
            Assert.Equal(["0", "1", "2", "0"], Enumerable.Range(0, 4).Select(r => GpuInventory.DeviceFor(r, gpus)));
            // A restriction the AppHost runs under wins, and "-1" (no GPU) leaves none.
            Assert.Equal(["5", "3"], GpuInventory.Visible("5, 3", driver.FullName));
            Assert.Empty(GpuInventory.Visible("-1", driver.FullName));
            Assert.Null(GpuInventory.DeviceFor(0, []));
        }
        finally
        {
            driver.Delete(recursive: true);
        }
    }
}
