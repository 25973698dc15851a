using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// A 30 s outage of either store kills no silo: PostgreSQL (conversations) down makes chat answer 503
/// with Retry-After, naming the storage, while sentiment serves; Redis (membership) down leaves
/// serving untouched. Each time service resumes by itself once the store is back.
/// </summary>
public sealed class StoreOutageTests(StoreOutageTests.TwoSilos fixture, ITestOutputHelper output) : IClassFixture<StoreOutageTests.TwoSilos>
{
    public static readonly TimeSpan Outage = TimeSpan.FromSeconds(30);

    /// <summary>How soon after the store is back chat must be served again.</summary>
    public static readonly TimeSpan ResumeBound = TimeSpan.FromSeconds(10);

    private TestCluster Cluster => fixture.Cluster;

    public sealed class TwoSilos : IAsyncLifetime
    {
        public TestCluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(silos: 2);

        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }

    [Fact]
    public async Task A_PostgreSQL_outage_gives_503_naming_the_storage_keeps_sentiment_and_every_silo_and_chat_resumes()
    {
        var traffic = new ChatTraffic(Cluster);
        string[] users = Enumerable.Range(0, 6).Select(i => $"pg-{i}").ToArray();
        await traffic.RunRoundAsync(users, 1);

        await Cluster.Postgres.StopAsync(CancellationToken.None);
        var outage = Stopwatch.StartNew();
        int chats = 0, sentiments = 0;
        for (int i = 0; outage.Elapsed < Outage; i++)
        {
            string user = users[i % users.Length];
            var (status, body, retryAfter) = await PostAsync($"/v1/conversations/{user}/messages", new { content = $"during {i}" });
            status.Should().Be(503, $"chat needs its storage: {body}");
            retryAfter.Should().NotBeNull("a 503 says when to retry");
            body.GetProperty("detail").GetString().Should().Contain("conversation storage").And.Contain("PostgreSQL");
            chats++;
            (await PostAsync("/v1/sentiment", new { text = $"outage sentence {i}" })).Status.Should().Be(200, "sentiment needs no storage");
            sentiments++;
            Cluster.Silos.Values.Should().OnlyContain(s => !s.HasExited, "a store outage kills no silo");
            await Task.Delay(200); // a steady trickle of requests through the outage
        }
        output.WriteLine($"outage of {outage.Elapsed.TotalSeconds:F0} s: {chats} chats answered 503, {sentiments} sentiments answered 200");

        await Cluster.Postgres.RestartAsync(CancellationToken.None);
        var back = Stopwatch.StartNew();
        var (turn, attempts) = await traffic.SendUntilAckedAsync(users[0], 2, ResumeBound);
        output.WriteLine($"chat served again {back.Elapsed.TotalSeconds:F1} s after PostgreSQL returned ({attempts} tries)");
        back.Elapsed.Should().BeLessThan(ResumeBound);
        await traffic.RunRoundAsync(users[1..], 2);
        Cluster.Silos.Values.Should().OnlyContain(s => !s.HasExited);
        (await Cluster.ReadSilosAsync()).Where(s => s.Id is "s1" or "s2").Should().OnlyContain(s => s.IsActive, "both silos serve throughout");
        // Nothing of the outage was stored: each history is exactly its acknowledged turns.
        await traffic.VerifyHistoriesAsync();
        turn.TurnNumber.Should().Be(2);
    }

    [Fact]
    public async Task A_Redis_outage_leaves_chat_and_sentiment_serving_kills_no_silo_and_membership_resumes()
    {
        var traffic = new ChatTraffic(Cluster);
        string[] users = Enumerable.Range(0, 6).Select(i => $"redis-{i}").ToArray();
        await traffic.RunRoundAsync(users, 1);

        await Cluster.Redis.StopAsync(CancellationToken.None);
        var outage = Stopwatch.StartNew();
        int round = 2, sentiments = 0;
        for (; outage.Elapsed < Outage; round++)
        {
            // Membership is not on the path of a call: conversations (old and new) and sentiment are served.
            await traffic.RunRoundAsync([.. users, $"redis-new-{round}"], round, parallelism: 4);
            (await PostAsync("/v1/sentiment", new { text = $"outage sentence {round}" })).Status.Should().Be(200);
            sentiments++;
            Cluster.Silos.Values.Should().OnlyContain(s => !s.HasExited, "a store outage kills no silo");
            await Task.Delay(200); // a steady trickle of requests through the outage
        }
        output.WriteLine($"outage of {outage.Elapsed.TotalSeconds:F0} s: {round - 2} chat rounds and {sentiments} sentiments served");
        (await Cluster.ReadSilosAsync()).Where(s => s.IsActive).Should().HaveCount(2, "no silo was declared dead meanwhile");

        // Back: membership works again, a new silo joins (cold: it needs no model to be a member; the Api may warm it at once).
        await Cluster.Redis.StartAsync(CancellationToken.None);
        var back = Stopwatch.StartNew();
        await Cluster.StartSiloAsync("s3", ["--Silo:StartCold=true"], readyPath: "/healthz");
        await Cluster.WaitForSilosAsync(silos => silos.Any(s => s.Id == "s3" && s.Reachable && s.Status is "cold" or "warming" or "active"),
            "s3 joins", TimeSpan.FromSeconds(30));
        output.WriteLine($"a new silo was a member {back.Elapsed.TotalSeconds:F1} s after Redis returned (its own start included)");
        Cluster.Silos.Values.Should().OnlyContain(s => !s.HasExited);
        (await Cluster.ReadSilosAsync()).Where(s => s.Id != "s3").Should().OnlyContain(s => s.IsActive);
        await traffic.RunRoundAsync(users, round);
        await traffic.VerifyHistoriesAsync();
    }

    private async Task<(int Status, JsonElement Body, string? RetryAfter)> PostAsync(string path, object body)
    {
        using var response = await Cluster.Http.PostAsJsonAsync(Cluster.ApiUrl + path, body);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response.Headers.RetryAfter?.ToString());
    }
}
