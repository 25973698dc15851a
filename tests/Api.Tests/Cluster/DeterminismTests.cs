using FluentAssertions;
using Qwen.Cluster.Routing;
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
        string onS1 = FirstUserOwnedBy("s1", ["s1", "s2"]);
        string onS2 = FirstUserOwnedBy("s2", ["s1", "s2"]);
        var first = await ConverseAsync(onS1);
        var second = await ConverseAsync(onS2);
        first.Select(r => r.Silo).Should().AllBe("s1");
        second.Select(r => r.Silo).Should().AllBe("s2");
        second.Select(r => r.Reply).Should().Equal(first.Select(r => r.Reply));

        // Restart the whole silo tier: stored histories survive, replies stay the same.
        foreach (var silo in _cluster.Silos.Values) silo.Kill();
        await _cluster.StartSiloAsync("s3");
        await _cluster.WaitForActiveSilosAsync(["s3"], TimeSpan.FromSeconds(15));
        var (status, history) = await _cluster.GetAsync($"/v1/conversations/{onS1}");
        status.Should().Be(200);
        history.GetProperty("messages").EnumerateArray().Where(m => m.GetProperty("role").GetString() == "assistant")
            .Select(m => m.GetProperty("content").GetString()).Should().Equal(first.Select(r => r.Reply));
        var third = await ConverseAsync("after-restart");
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

    private static string FirstUserOwnedBy(string silo, string[] silos) =>
        Enumerable.Range(0, 100).Select(i => $"det-{i}").First(u => RendezvousHash.Owner(u, silos) == silo);
}
