using FluentAssertions;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Routing;
using Xunit;

namespace Qwen.Api.Tests.Cluster;

/// <summary>A silo stopped with SIGTERM finishes its in-flight turns before it leaves.</summary>
public sealed class GracefulStopTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(silos: 2);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Sigterm_drains_in_flight_turns_then_the_silo_leaves()
    {
        string[] s1Users = Enumerable.Range(0, 400).Select(i => $"drain-{i}")
            .Where(u => RendezvousHash.Owner(u, ["s1", "s2"]) == "s1").Take(40).ToArray();
        var traffic = new ChatTraffic(_cluster);
        await traffic.RunRoundAsync(s1Users, 1);

        // Queue up turns on s1 (one model request at a time there), then ask it to stop.
        var inFlight = s1Users.Select(u => traffic.SendAsync(u, 2, 0)).ToArray();
        await Task.Delay(150);
        int exitCode = await _cluster.Silos["s1"].StopGracefullyAsync(TimeSpan.FromSeconds(60));
        await Task.WhenAll(inFlight);

        exitCode.Should().Be(0);
        (await _cluster.ReadMembershipAsync()).Single(s => s.SiloId == "s1").Status.Should().Be(SiloStatus.Dead, "a silo that left is no longer a member");
        traffic.Acked.Values.SelectMany(t => t).Where(t => t.Round == 2).Should().Contain(t => t.Silo == "s1",
            "turns that were queued on s1 when it was told to stop are finished by s1");
        await _cluster.WaitForActiveSilosAsync(["s2"], TimeSpan.FromSeconds(10));
        await traffic.RunRoundAsync(s1Users, 3);
        traffic.Acked.Values.SelectMany(t => t).Where(t => t.Round == 3).Should().OnlyContain(t => t.Silo == "s2");
        await traffic.VerifyHistoriesAsync();
    }
}
