using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// A cold silo joins the cluster without loading its model and gets no conversations; when load makes
/// the Api recommend another silo, the Api warms it up and Orleans places new conversations on it too.
/// </summary>
public sealed class ColdSiloTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    // Any served request is over this tiny SLO: once enough requests are measured, the Api wants two silos.
    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(silos: 1, apiArguments:
    [
        "--Autoscale:TargetP90Ms=0.001", "--Autoscale:MinLatencySamples=12", "--Autoscale:MaxSilos=2",
        "--Autoscale:EvaluationInterval=00:00:00.250",
    ]);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_cold_silo_gets_no_conversations_until_the_Api_warms_it_up_on_demand()
    {
        var cold = await _cluster.StartSiloAsync("s2", ["--Silo:StartCold=true"], readyPath: "/healthz");
        var s2 = (await _cluster.WaitForSilosAsync(silos => silos.Any(s => s.Id == "s2" && s.Status == "cold"), "s2 is a cold member",
            TimeSpan.FromSeconds(30))).Single(s => s.Id == "s2");
        s2.ModelLoaded.Should().BeFalse();
        cold.RecentOutput.Should().Contain("Silo started cold").And.NotContain("Silo active", "a cold silo does not load its model");
        using var http = new HttpClient();
        (await http.GetAsync(cold.Url + "/readyz")).StatusCode.Should().Be(System.Net.HttpStatusCode.ServiceUnavailable);

        // New conversations, while s2 is a cold member, are all placed on s1; sentiment too goes to s1 only.
        string[] users = Enumerable.Range(0, 10).Select(i => $"cold-{i}").ToArray();
        var traffic = new ChatTraffic(_cluster);
        await traffic.RunRoundAsync(users, 1, parallelism: 2);
        users.Should().OnlyContain(u => traffic.Acked[u].Single().Silo == "s1", "a cold silo gets no conversation placements");
        (await _cluster.PostAsync("/v1/sentiment", new { text = "cold start" })).Body.GetProperty("silo").GetString().Should().Be("s1");
        (await _cluster.ReadSilosAsync()).Single(s => s.Id == "s2").Status.Should().Be("cold", "ten requests are too few to judge latency");

        // More requests: p90 is over the SLO, the Api recommends two silos and warms s2 up.
        var scale = await WaitForScaleAsync(r => r.GetProperty("recommended").GetInt32() == 2, traffic, users);
        output.WriteLine($"scale signal: {scale}");
        await _cluster.WaitForActiveSilosAsync(["s1", "s2"], TimeSpan.FromSeconds(60));
        cold.RecentOutput.Should().Contain("Silo active");

        // Conversations placed from now on go to both silos; the earlier ones stay on s1.
        string[] later = Enumerable.Range(0, 30).Select(i => $"warm-{i}").ToArray();
        await traffic.RunRoundAsync(later, 1);
        int onS2 = later.Count(u => traffic.Acked[u].Single().Silo == "s2");
        output.WriteLine($"{onS2} of {later.Length} new conversations placed on s2 once warm");
        onS2.Should().BeGreaterThan(0);
        await traffic.VerifyHistoriesAsync();
    }

    private async Task<System.Text.Json.JsonElement> WaitForScaleAsync(Func<System.Text.Json.JsonElement, bool> condition, ChatTraffic traffic,
        string[] users)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        for (int round = 2; ; round++)
        {
            await traffic.RunRoundAsync(users, round, parallelism: 4);
            var (status, body) = await _cluster.GetAsync("/v1/cluster/scale");
            status.Should().Be(200);
            if (condition(body)) return body;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the scale signal stayed {body}");
        }
    }
}
