using System.Diagnostics;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// 200 users × 4 rounds through a real Orleans cluster (Redis, PostgreSQL, silo processes, Api
/// process): a fourth silo joining while a round runs, then a silo killed with SIGKILL mid-round.
/// </summary>
public sealed class ClusterFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>From SIGKILL to "dead" in the Api's view: two missed 1 s probes, the votes, and the Api's 1 s poll.</summary>
    public static readonly TimeSpan DeadBound = TimeSpan.FromSeconds(8);

    private TestCluster _cluster = null!;

    // A call forwarded by another gateway to the silo that is killed gets no answer at all: the Api gives up
    // after its call timeout (default 5 minutes) and answers 503, and the client retries.
    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(silos: 3, apiArguments: ["--Cluster:CallTimeout=00:00:15"]);

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
        var homeOf = users.ToDictionary(u => u, u => traffic.Acked[u].Single().Silo);
        homeOf.Values.Distinct().Should().BeEquivalentTo(["s1", "s2", "s3"], "Orleans places conversations on every warm silo");

        // A fourth silo joins while round 2 runs: the round's last quarter is sent only once s4 is seen
        // active, and the first three quarters are in flight while it starts; every turn succeeds.
        var joined = new TaskCompletionSource<DateTime>(TaskCreationOptions.RunContinuationsAsynchronously);
        var ackTimes = new System.Collections.Concurrent.ConcurrentBag<DateTime>();
        var round2 = Task.Run(async () =>
        {
            await traffic.RunRoundAsync(users[..150], 2, parallelism: 2, onAcked: _ => ackTimes.Add(DateTime.UtcNow));
            await joined.Task;
            await traffic.RunRoundAsync(users[150..], 2, parallelism: 4, onAcked: _ => ackTimes.Add(DateTime.UtcNow));
        });
        await _cluster.StartSiloAsync("s4");
        await _cluster.WaitForActiveSilosAsync(["s1", "s2", "s3", "s4"], TimeSpan.FromSeconds(30));
        var joinedAt = DateTime.UtcNow;
        joined.SetResult(joinedAt);
        await round2;
        int before = ackTimes.Count(t => t < joinedAt), after = ackTimes.Count(t => t >= joinedAt);
        output.WriteLine($"round 2: {before} turns acknowledged before s4 joined, {after} after");
        after.Should().BeGreaterThan(0, "the round was still running when s4 joined");
        users.Should().OnlyContain(u => traffic.Acked[u].Single(t => t.Round == 2).Silo == homeOf[u],
            "an active conversation stays where it is when a silo joins");

        // Round 3, with new users: Orleans places some of them on s4.
        string[] newcomers = Enumerable.Range(0, 60).Select(i => $"new-{i:D2}").ToArray();
        await traffic.RunRoundAsync([.. users, .. newcomers], 3);
        var onS4 = newcomers.Count(u => traffic.Acked[u].Single().Silo == "s4");
        output.WriteLine($"{onS4} of {newcomers.Length} new conversations placed on s4");
        onS4.Should().BeGreaterThan(0, "a joined silo takes new conversations");

        // SIGKILL s2 while round 4 is in flight: its users carry on elsewhere. Clients retry with their
        // Idempotency-Key, so a turn answered just before the kill is not run twice.
        string[] s2Users = [.. users.Concat(newcomers).Where(u => traffic.Acked[u].Last().Silo == "s2")];
        s2Users.Should().NotBeEmpty();
        Task<TimeSpan>? deadWatch = null;
        int acked = 0;
        var round4 = Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = 12 }, async (user, _) =>
        {
            await traffic.SendUntilAckedAsync(user, 4, TimeSpan.FromSeconds(60));
            if (Interlocked.Increment(ref acked) == 60)
            {
                _cluster.Silos["s2"].Kill();
                deadWatch = WatchUntilDeadAsync("s2", Stopwatch.StartNew());
            }
        });
        await round4;
        var deadAfter = await deadWatch!;
        output.WriteLine($"s2 dead in the Api's view {deadAfter.TotalSeconds:F1} s after SIGKILL (bound {DeadBound.TotalSeconds} s)");
        deadAfter.Should().BeLessThan(DeadBound, "a killed silo is declared dead within a few probes");
        (await _cluster.ReadSilosAsync()).Single(s => s.Id == "s2").Status.Should().Be("dead");

        // Its users are served by the others once it is dead.
        await Parallel.ForEachAsync(s2Users, async (user, _) => await traffic.SendUntilAckedAsync(user, 5, TimeSpan.FromSeconds(60)));
        s2Users.Select(u => traffic.Acked[u].Single(t => t.Round == 5).Silo).Should().NotContain("s2");

        // Every acknowledged turn is stored once, in order, in its own user's history.
        await traffic.VerifyHistoriesAsync();
        traffic.Acked["burst-user"].Should().HaveCount(10);
        users.Should().OnlyContain(u => traffic.Acked[u].Count == (s2Users.Contains(u) ? 5 : 4));
    }

    /// <summary>Polls from the moment of the kill, so the time is measured even when detection is quicker than any later check.</summary>
    private async Task<TimeSpan> WatchUntilDeadAsync(string siloId, Stopwatch sinceKill)
    {
        await _cluster.WaitForSilosAsync(silos => silos.Any(s => s.Id == siloId && s.Status == "dead"), $"{siloId} is dead",
            TimeSpan.FromSeconds(60));
        return sinceKill.Elapsed;
    }
}
