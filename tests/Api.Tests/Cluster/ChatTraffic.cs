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

    /// <summary>
    /// Sends one turn as a careful client does: on a retryable failure (429, 503, 504, connection error) it sends the
    /// same turn again with the same Idempotency-Key until it is acknowledged. Returns the turn and how many tries it took.
    /// </summary>
    public async Task<(AckedTurn Turn, int Attempts)> SendUntilAckedAsync(string user, int round, TimeSpan giveUpAfter)
    {
        string content = ContentOf(user, round);
        string key = $"{user}-round-{round}";
        var deadline = DateTime.UtcNow + giveUpAfter;
        for (int attempt = 1; ; attempt++)
        {
            string failure;
            try
            {
                var (status, body) = await cluster.PostAsync($"/v1/conversations/{user}/messages", new { content }, key);
                if (status == 200)
                {
                    var turn = new AckedTurn(user, round, content, body.GetProperty("reply").GetString()!,
                        body.GetProperty("turn").GetInt32(), body.GetProperty("silo").GetString()!);
                    Acked.GetOrAdd(user, _ => []).Add(turn);
                    return (turn, attempt);
                }
                status.Should().BeOneOf([429, 503, 504], $"a lost or busy silo is a retryable failure, never a 500: {body}");
                failure = $"HTTP {status}: {body}";
            }
            catch (HttpRequestException e)
            {
                failure = e.Message;
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the turn of {user} in round {round} was not acknowledged: {failure}");
            await Task.Delay(300);
        }
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
