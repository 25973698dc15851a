using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// Two silos with small admission limits driven far past them: every request is answered 200 or
/// 429 (at once, with Retry-After), queues stay within their bounds, nothing stored is lost or
/// invented, and the service serves everything again as soon as the load drops.
/// </summary>
public sealed class OverloadTests(OverloadTests.SmallSilos fixture, ITestOutputHelper output) : IClassFixture<OverloadTests.SmallSilos>
{
    public const int MaxBatchSize = 2;
    public const int MaxQueueLength = 2;
    public const int ReplyTokens = 48;

    /// <summary>Requests one silo holds at most: decoding plus waiting.</summary>
    public const int SiloCapacity = MaxBatchSize + MaxQueueLength;

    private static readonly string[] Texts = ["这部电影太好看了！", "服务太差了，再也不来了", "The food was great", "I hated every minute", "还行吧，一般般"];

    private TestCluster Cluster => fixture.Cluster;

    public sealed class SmallSilos : IAsyncLifetime
    {
        public TestCluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(silos: 2,
        [
            $"--Inference:MaxBatchSize={MaxBatchSize}",
            $"--Inference:MaxQueueLength={MaxQueueLength}",
            $"--Conversations:MaxNewTokens={ReplyTokens}",
            $"--Inference:DefaultMaxNewTokens={ReplyTokens}",
            "--Inference:Degradation:BacklogThreshold=1",
            "--Inference:Degradation:CappedMaxNewTokens=8",
        ],
        // Every 429 here must be the silos' backpressure, not the per-client rate limit.
        apiArguments: ["--RateLimit:Enabled=false"]);

        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }

    private sealed record Outcome(string Kind, string User, string Content, int Status, double Milliseconds, string? RetryAfter, JsonElement Body);

    [Fact]
    public async Task Five_times_capacity_gets_200_or_quick_429_within_bounded_queues_and_recovers()
    {
        var bystander = new ChatTraffic(Cluster);
        await bystander.SendAsync("bystander", 1, 0);
        await bystander.SendAsync("bystander", 2, 0);

        int clients = 5 * 2 * SiloCapacity;
        var outcomes = new ConcurrentBag<Outcome>();
        var peaks = new ConcurrentDictionary<string, SiloLoad>();
        using var sampling = new CancellationTokenSource();
        var sampler = SampleAsync(peaks, sampling.Token);
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var random = new Random(c);
            for (int i = 0; i < 6; i++)
            {
                outcomes.Add(random.Next(2) == 0
                    ? await SentimentAsync(Texts[random.Next(Texts.Length)])
                    : await ChatAsync($"load-{c}", $"client {c} message {i}"));
            }
        })));
        await sampling.CancelAsync();
        await sampler;

        var all = outcomes.ToArray();
        Report(all, peaks);
        all.Should().OnlyContain(o => o.Status == 200 || o.Status == 429, "an overloaded cluster answers or refuses, nothing else");
        var refused = all.Where(o => o.Status == 429).ToArray();
        refused.Should().NotBeEmpty("five times the capacity must overflow it");
        refused.Should().OnlyContain(o => o.RetryAfter == "1" && o.Body.GetProperty("detail").GetString()!.Contains("full"));
        all.Where(o => o.Status == 200).Select(o => o.Kind).Distinct().Should().BeEquivalentTo(["sentiment", "chat"]);
        Median(refused).Should().BeLessThan(Median(all.Where(o => o.Status == 200 && o.Kind == "chat")),
            "a refusal waits for no model step; an admitted reply waits for its place and its steps");
        foreach (var (silo, peak) in peaks)
        {
            peak.Queued.Should().BeLessThanOrEqualTo(MaxQueueLength, $"{silo}'s queue is bounded");
            peak.BatchSize.Should().BeLessThanOrEqualTo(MaxBatchSize, $"{silo}'s batch is bounded");
        }
        Cluster.Api!.RecentOutput.Should().Contain("could not serve (Overloaded", "a sentiment refused by a full silo was tried on the other");

        // Every acknowledged turn is stored, in order; no refused one is.
        foreach (var user in all.Where(o => o.Kind == "chat").GroupBy(o => o.User))
        {
            var stored = (await Cluster.MessagesAsync(user.Key)).Where(m => m.GetProperty("role").GetString() == "user")
                .Select(m => m.GetProperty("content").GetString()).ToArray();
            stored.Should().Equal(user.Where(o => o.Status == 200).Select(o => o.Content).OrderBy(c => c, StringComparer.Ordinal),
                $"{user.Key}'s history holds exactly its acknowledged turns");
        }
        await bystander.VerifyHistoriesAsync();

        // Load drops to what the silos hold: everything succeeds again.
        await Cluster.WaitForLoadAsync("s1", l => l is { Queued: 0, Running: 0 }, "s1 is idle");
        await Cluster.WaitForLoadAsync("s2", l => l is { Queued: 0, Running: 0 }, "s2 is idle");
        var calm = new ConcurrentBag<Outcome>();
        await Task.WhenAll(Enumerable.Range(0, MaxBatchSize).Select(c => Task.Run(async () =>
        {
            for (int i = 0; i < 8; i++)
                calm.Add(i % 2 == 0 ? await SentimentAsync(Texts[i % Texts.Length]) : await ChatAsync($"calm-{c}", $"calm {c} message {i}"));
        })));
        calm.Should().OnlyContain(o => o.Status == 200, "below capacity every request is served");
        await bystander.SendAsync("bystander", 3, 0);
        await bystander.VerifyHistoriesAsync();
    }

    [Fact]
    public async Task Sentiment_goes_to_the_other_silo_while_one_is_saturated()
    {
        // Conversations live where Orleans placed them: keep those on s1.
        var placed = new ChatTraffic(Cluster);
        string[] candidates = Enumerable.Range(0, 8 * SiloCapacity).Select(i => $"saturate-{i}").ToArray();
        await placed.RunRoundAsync(candidates, 1, parallelism: 2);
        string[] s1Users = candidates.Where(u => placed.Acked[u].Single().Silo == "s1").Take(3 * SiloCapacity).ToArray();
        s1Users.Length.Should().BeGreaterThan(SiloCapacity);
        var before = await Cluster.ReadLoadAsync("s1");
        using var stop = new CancellationTokenSource();
        var saturation = s1Users.Select((user, i) => Task.Run(async () =>
        {
            for (int n = 0; !stop.IsCancellationRequested; n++) await ChatAsync(user, $"keep s1 busy {i}.{n}");
        })).ToArray();
        await Cluster.WaitForLoadAsync("s1", l => l.Refused > before.Refused && l.Queued == MaxQueueLength, "s1 is full and refusing");
        // The Api polls each silo's load every second: wait until it has seen s1 full.
        await Cluster.WaitForSilosAsync(silos => silos.Single(s => s.Id == "s1").Load >= MaxQueueLength, "the Api sees s1 full",
            TimeSpan.FromSeconds(10));

        var answers = new List<Outcome>();
        // As many at once as s2 lets wait: within its limits, nothing needs refusing.
        for (int round = 0; round < 10; round++)
            answers.AddRange(await Task.WhenAll(Enumerable.Range(0, MaxQueueLength).Select(i => SentimentAsync(Texts[(round + i) % Texts.Length]))));
        var s1During = await Cluster.ReadLoadAsync("s1");
        await stop.CancelAsync();
        await Task.WhenAll(saturation);

        s1During.Refused.Should().BeGreaterThan(before.Refused);
        answers.Should().OnlyContain(o => o.Status == 200, "the other silo has room");
        answers.Select(o => o.Body.GetProperty("silo").GetString()).Should().OnlyContain(s => s == "s2", "s1 is full");
    }

    private async Task SampleAsync(ConcurrentDictionary<string, SiloLoad> peaks, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            foreach (string silo in new[] { "s1", "s2" })
            {
                var load = await Cluster.ReadLoadAsync(silo);
                peaks.AddOrUpdate(silo, load, (_, peak) => peak with
                {
                    Queued = Math.Max(peak.Queued, load.Queued),
                    Running = Math.Max(peak.Running, load.Running),
                    BatchSize = Math.Max(peak.BatchSize, load.BatchSize),
                    Refused = load.Refused,
                    Degraded = peak.Degraded || load.Degraded,
                });
            }
            await Task.Delay(20, CancellationToken.None);
        }
    }

    private Task<Outcome> SentimentAsync(string text) => PostAsync("sentiment", "", text, "/v1/sentiment", new { text });

    private Task<Outcome> ChatAsync(string user, string content) =>
        PostAsync("chat", user, content, $"/v1/conversations/{user}/messages", new { content });

    private async Task<Outcome> PostAsync(string kind, string user, string content, string path, object body)
    {
        var watch = Stopwatch.StartNew();
        using var response = await Cluster.Http.PostAsJsonAsync(Cluster.ApiUrl + path, body);
        string text = await response.Content.ReadAsStringAsync();
        return new Outcome(kind, user, content, (int)response.StatusCode, watch.Elapsed.TotalMilliseconds,
            response.Headers.RetryAfter?.ToString(), text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static double Median(IEnumerable<Outcome> outcomes) => Percentile(outcomes.Select(o => o.Milliseconds), 0.5);

    private static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
    }

    private void Report(Outcome[] all, ConcurrentDictionary<string, SiloLoad> peaks)
    {
        foreach (var group in all.GroupBy(o => (o.Kind, o.Status)).OrderBy(g => g.Key))
        {
            var ms = group.Select(o => o.Milliseconds).ToArray();
            output.WriteLine($"{group.Key.Kind,-9} {group.Key.Status}: {ms.Length,4} requests, P50 {Percentile(ms, 0.5),7:F1} ms, " +
                $"P99 {Percentile(ms, 0.99),7:F1} ms, max {ms.Max(),7:F1} ms");
        }
        output.WriteLine($"degraded replies: {all.Count(o => o.Kind == "chat" && o.Status == 200 && o.Body.GetProperty("degraded").ValueKind != JsonValueKind.Null)}");
        foreach (string line in Cluster.Api!.RecentOutput.Split('\n').Where(l => l.Contains("Unavailable", StringComparison.Ordinal)).Take(10))
            output.WriteLine("api: " + line);
        foreach (var (silo, peak) in peaks.OrderBy(p => p.Key))
        {
            output.WriteLine($"{silo}: peak queued {peak.Queued}/{MaxQueueLength}, peak running {peak.Running}, peak batch {peak.BatchSize}/{MaxBatchSize}, " +
                $"refused {peak.Refused}, degraded seen {peak.Degraded}");
        }
    }
}
