using Pipeline.AppHost.Hosting;

namespace Pipeline.AppHost.Tests;

public sealed class CrashSupervisorTests
{
    [Fact]
    public void The_back_off_starts_at_1_s_doubles_and_stops_at_30_s()
    {
        Assert.Equal([1, 2, 4, 8, 16, 30, 30], Enumerable.Range(0, 7).Select(streak => CrashSupervisor.Delay(streak).TotalSeconds));
        Assert.Equal(30, CrashSupervisor.Delay(int.MaxValue).TotalSeconds);
    }
}
