using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>A silo stopped with SIGTERM finishes the turns queued on it before it leaves.</summary>
public sealed class GracefulStopTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    // One reply at a time, 40 tokens each: turns sent together wait in the silo's queue.
    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(silos: 2,
        ["--Inference:MaxBatchSize=1", "--Conversations:MaxNewTokens=40", "--Inference:DefaultMaxNewTokens=40"]);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Sigterm_drains_the_turns_queued_on_the_silo_then_the_silo_leaves()
    {
        var traffic = new ChatTraffic(_cluster);
        string[] users = Enumerable.Range(0, 40).Select(i => $"drain-{i:D2}").ToArray();
        await traffic.RunRoundAsync(users, 1);
        string[] s1Users = users.Where(u => traffic.Acked[u].Single().Silo == "s1").ToArray();
        s1Users.Length.Should().BeGreaterThan(4, "Orleans spreads new conversations over both silos");

        // Turns of s1's users, queued on s1's worker, when s1 is told to stop.
        var inFlight = s1Users.Select(u => traffic.SendAsync(u, 2, 0)).ToArray();
        // Every one of them admitted by s1's worker (a turn still on its way when the silo stops is refused, 503).
        var queued = await _cluster.WaitForLoadAsync("s1", l => l.Queued >= 3 && l.Queued + l.Running == inFlight.Length,
            "all the turns are admitted on s1, some waiting");
        var stop = _cluster.Silos["s1"].StopGracefullyAsync(TimeSpan.FromSeconds(90));
        var answered = await Task.WhenAll(inFlight);
        int exitCode = await stop;
        output.WriteLine($"SIGTERM with {queued.Queued} turns queued and {queued.Running} running on s1; {answered.Length} answered");

        exitCode.Should().Be(0);
        answered.Should().OnlyContain(t => t.Silo == "s1", "turns queued on s1 when it was told to stop are finished by s1, not rerouted");
        await _cluster.WaitForSilosAsync(silos => silos.Single(s => s.Id == "s1").Status == "dead", "s1 left the cluster",
            TimeSpan.FromSeconds(30));
        await _cluster.WaitForActiveSilosAsync(["s2"], TimeSpan.FromSeconds(10));
        await traffic.RunRoundAsync(s1Users, 3);
        s1Users.Select(u => traffic.Acked[u].Single(t => t.Round == 3).Silo).Should().OnlyContain(s => s == "s2");
        await traffic.VerifyHistoriesAsync();
    }
}
