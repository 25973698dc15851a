using System.Collections.Concurrent;
using FluentAssertions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>An acknowledged chat turn as the client saw it.</summary>
public sealed record AckedTurn(string UserId, int Round, string Content, string Reply, int TurnNumber, string Silo);

/// <summary>Sends chat turns through the Api, many users at once, and remembers every acknowledgement.</summary>
public sealed class ChatTraffic(ApiClient cluster)
{
    public ChatTraffic(TestCluster cluster)
        : this(cluster.Client)
    {
    }

    public ConcurrentDictionary<string, ConcurrentBag<AckedTurn>> Acked { get; } = new();

    public static string ContentOf(string userId, int round, int part = 0) => $"I am {userId}, round {round}.{part}";

    /// <summary>One turn for each user, <paramref name="parallelism"/> requests in flight; every one must succeed.</summary>
    public async Task RunRoundAsync(IReadOnlyList<string> users, int round, int parallelism = 12, Action<int>? onAcked = null)
    {
        int done = 0;
        await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (user, _) =>
        {
            await SendAsync(user, round, 0);
            onAcked?.Invoke(Interlocked.Increment(ref done));
        });
    }

    public async Task<AckedTurn> SendAsync(string user, int round, int part)
    {
        string content = ContentOf(user, round, part);
        var (status, body) = await cluster.PostAsync($"/v1/conversations/{user}/messages", new { content });
        status.Should().Be(200, $"a turn of {user} must be answered: {body}");
        var turn = new AckedTurn(user, round, content, body.GetProperty("reply").GetString()!,
            body.GetProperty("turn").GetInt32(), body.GetProperty("silo").GetString()!);
        Acked.GetOrAdd(user, _ => []).Add(turn);
        return turn;
    }

    /// <summary>Every user's stored history holds exactly their acknowledged turns, in acknowledgement (turn) order.</summary>
    public async Task VerifyHistoriesAsync()
    {
        foreach (var (user, turns) in Acked)
        {
            var (status, body) = await cluster.GetAsync($"/v1/conversations/{user}");
            status.Should().Be(200);
            var messages = body.GetProperty("messages").EnumerateArray()
                .Select(m => (Role: m.GetProperty("role").GetString()!, Content: m.GetProperty("content").GetString()!)).ToArray();
            var expected = turns.OrderBy(t => t.TurnNumber)
                .SelectMany(t => new[] { ("user", t.Content), ("assistant", t.Reply) }).ToArray();
            messages.Should().Equal(expected, $"the history of {user}");
            turns.Select(t => t.TurnNumber).Order().Should().Equal(Enumerable.Range(1, turns.Count), $"turn numbers of {user}");
            messages.Where(m => m.Role == "user").Should().OnlyContain(m => m.Content.StartsWith($"I am {user},", StringComparison.Ordinal),
                $"{user}'s history must hold only {user}'s messages");
        }
    }
}
