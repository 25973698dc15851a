using FluentAssertions;
using Xunit;

namespace Qwen.Api.Tests.Cluster;

/// <summary>Greedy replies depend only on the conversation: not on the silo, not on restarts.</summary>
public sealed class DeterminismTests : IAsyncLifetime
{
    private static readonly string[] Messages = ["你好！", "Tell me about the weather in 北京.", "Thanks, and tomorrow?"];
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(silos: 2);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task The_same_conversation_gets_the_same_replies_on_any_silo_and_after_a_restart()
    {
        // Conversations until Orleans has placed one on each silo (each stays where it was placed).
        var bySilo = new Dictionary<string, (string User, IReadOnlyList<(string Reply, string Silo)> Replies)>();
        for (int i = 0; bySilo.Count < 2; i++)
        {
            i.Should().BeLessThan(40, "random placement reaches both silos");
            string user = $"det-{i}";
            var replies = await ConverseAsync(user);
            replies.Select(r => r.Silo).Distinct().Should().ContainSingle($"{user} stays on one silo");
            bySilo.TryAdd(replies[0].Silo, (user, replies));
        }
        var first = bySilo["s1"].Replies;
        bySilo["s2"].Replies.Select(r => r.Reply).Should().Equal(first.Select(r => r.Reply));

        // Restart the whole silo tier: stored histories survive, replies stay the same.
        foreach (var silo in _cluster.Silos.Values) silo.Kill();
        await _cluster.StartSiloAsync("s3");
        await _cluster.WaitForActiveSilosAsync(["s3"], TimeSpan.FromSeconds(60));
        var (status, history) = await _cluster.GetAsync($"/v1/conversations/{bySilo["s1"].User}");
        status.Should().Be(200, history.ToString());
        history.GetProperty("messages").EnumerateArray().Where(m => m.GetProperty("role").GetString() == "assistant")
            .Select(m => m.GetProperty("content").GetString()).Should().Equal(first.Select(r => r.Reply));
        var third = await ConverseAsync("after-restart");
        third.Select(r => r.Silo).Should().AllBe("s3");
        third.Select(r => r.Reply).Should().Equal(first.Select(r => r.Reply));
    }

    private async Task<IReadOnlyList<(string Reply, string Silo)>> ConverseAsync(string user)
    {
        var replies = new List<(string, string)>();
        foreach (string message in Messages)
        {
            var (status, body) = await _cluster.PostAsync($"/v1/conversations/{user}/messages", new { content = message });
            status.Should().Be(200, body.ToString());
            replies.Add((body.GetProperty("reply").GetString()!, body.GetProperty("silo").GetString()!));
        }
        return replies;
    }
}
