using System.Diagnostics;
using FluentAssertions;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Routing;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// 200 users × 4 rounds through a real cluster (PostgreSQL, silo processes, Api process):
/// a fourth silo joining mid-round, then a silo killed with SIGKILL mid-round.
/// </summary>
public sealed class ClusterFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(silos: 3);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Users_keep_complete_histories_through_scale_out_and_a_killed_silo()
    {
        string[] users = Enumerable.Range(0, 200).Select(i => $"user-{i:D3}").ToArray();
        var traffic = new ChatTraffic(_cluster);

        // Round 1 on three silos, plus a burst of concurrent messages for one user.
        var burst = Enumerable.Range(0, 10).Select(part => traffic.SendAsync("burst-user", 1, part)).ToArray();
        await traffic.RunRoundAsync(users, 1);
        await Task.WhenAll(burst);
        var ownersOf3 = users.ToDictionary(u => u, u => RendezvousHash.Owner(u, ["s1", "s2", "s3"])!);
        traffic.Acked.Where(p => p.Key != "burst-user").Should().OnlyContain(p => p.Value.Single().Silo == ownersOf3[p.Key],
            "each user is served by its rendezvous owner");

        // A fourth silo joins while round 2 is in flight: only the users it now owns move,
        // about a quarter of them, and every turn of the round still succeeds.
        var round2 = traffic.RunRoundAsync(users, 2, parallelism: 4);
        await _cluster.StartSiloAsync("s4");
        await round2;
        await _cluster.WaitForActiveSilosAsync(["s1", "s2", "s3", "s4"], TimeSpan.FromSeconds(30));
        var ownersOf4 = users.ToDictionary(u => u, u => RendezvousHash.Owner(u, ["s1", "s2", "s3", "s4"])!);
        string[] moved = users.Where(u => ownersOf3[u] != ownersOf4[u]).ToArray();
        moved.Should().OnlyContain(u => ownersOf4[u] == "s4");
        ((double)moved.Length / users.Length).Should().BeInRange(0.15, 0.35);
        output.WriteLine($"scale-out moved {moved.Length} of {users.Length} users to s4");
        await traffic.RunRoundAsync(users, 3);
        foreach (string user in users)
            traffic.Acked[user].Single(t => t.Round == 3).Silo.Should().Be(ownersOf4[user], $"{user} after scale-out");

        // SIGKILL s2 while round 4 is in flight: its users carry on elsewhere.
        var killedAt = new TaskCompletionSource<Stopwatch>();
        var round4 = traffic.RunRoundAsync(users, 4, onAcked: n =>
        {
            if (n == 60)
            {
                _cluster.Silos["s2"].Kill();
                killedAt.TrySetResult(Stopwatch.StartNew());
            }
        });
        await round4;
        var sinceKill = await killedAt.Task;
        var deadline = TimeSpan.FromSeconds(8);
        while (!(await _cluster.ReadMembershipAsync()).Any(s => s.SiloId == "s2" && s.Status == SiloStatus.Dead))
        {
            sinceKill.Elapsed.Should().BeLessThan(deadline, "a killed silo is declared dead within DeadSiloTimeout plus a few heartbeats");
            await Task.Delay(100);
        }
        output.WriteLine($"s2 declared dead {sinceKill.Elapsed.TotalSeconds:F1} s after SIGKILL (bound {deadline.TotalSeconds} s)");
        string[] s2Users = users.Where(u => ownersOf4[u] == "s2").ToArray();
        s2Users.Should().NotBeEmpty();

        // Every acknowledged turn is stored once, in order, in its own user's history.
        await traffic.VerifyHistoriesAsync();
        traffic.Acked["burst-user"].Should().HaveCount(10);
        traffic.Acked.Where(p => p.Key != "burst-user").Should().OnlyContain(p => p.Value.Count == 4);
        s2Users.Select(u => traffic.Acked[u].Single(t => t.Round == 4).Silo).Should().Contain(s => s != "s2",
            "the killed silo's users were served by the others after it died");
    }
}
