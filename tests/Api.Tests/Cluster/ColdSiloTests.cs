using System.Net.Http.Json;
using FluentAssertions;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Routing;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// A cold silo registers without loading its model, gets no traffic and refuses grain calls;
/// when load makes the Api recommend another silo, the Api warms it up and routes to it once its model is loaded.
/// </summary>
public sealed class ColdSiloTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    // Any served request is over this tiny SLO: once enough requests are measured, the Api wants two silos.
    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync(silos: 1, apiArguments:
        ["--Autoscale:TargetP90Ms=0.001", "--Autoscale:MinLatencySamples=6", "--Autoscale:MaxSilos=2", "--Autoscale:EvaluationInterval=00:00:00.250"]);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_cold_silo_gets_no_traffic_until_the_Api_warms_it_up_on_demand()
    {
        var cold = await _cluster.StartSiloAsync("s2", ["--Silo:StartCold=true"], readyPath: "/healthz");
        var s2 = await WaitForStatusAsync("s2", SiloStatus.Cold);
        s2.Load.ModelLoaded.Should().BeFalse();
        cold.RecentOutput.Should().NotContain("Model ", "a cold silo does not load its model");
        using var http = new HttpClient();
        (await http.GetAsync(cold.Url + "/readyz")).StatusCode.Should().Be(System.Net.HttpStatusCode.ServiceUnavailable);

        // Users s2 would own if it were warm are served by s1; s2 refuses grain calls as unavailable.
        string[] s2Users = Enumerable.Range(0, 200).Select(i => $"cold-{i}").Where(u => RendezvousHash.Owner(u, ["s1", "s2"]) == "s2").Take(5).ToArray();
        var traffic = new ChatTraffic(_cluster);
        foreach (string user in s2Users) (await traffic.SendAsync(user, 1, 0)).Silo.Should().Be("s1");
        using var direct = await http.PostAsJsonAsync(cold.Url + $"/silo/conversations/{s2Users[0]}/turns", new { turnId = "x", content = "hi" });
        ((int)direct.StatusCode).Should().Be(503);
        (await direct.Content.ReadAsStringAsync()).Should().Contain("cold");
        (await _cluster.ReadMembershipAsync()).Single(s => s.SiloId == "s2").Status.Should().Be(SiloStatus.Cold, "five requests are too few to judge latency");

        // More requests: p90 is over the SLO, the Api recommends two silos and warms s2 up.
        var scale = await WaitForScaleAsync(r => r.GetProperty("recommended").GetInt32() == 2, traffic, s2Users);
        output.WriteLine($"scale signal: {scale}");
        await _cluster.WaitForActiveSilosAsync(["s1", "s2"], TimeSpan.FromSeconds(60));
        cold.RecentOutput.Should().Contain("warming up");
        foreach (string user in s2Users) (await traffic.SendAsync(user, 100, 0)).Silo.Should().Be("s2", $"{user} moves to s2 once it is warm");
        await traffic.VerifyHistoriesAsync();
    }

    private async Task<SiloRecord> WaitForStatusAsync(string siloId, SiloStatus status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var silo = (await _cluster.ReadMembershipAsync()).SingleOrDefault(s => s.SiloId == siloId);
            if (silo?.Status == status) return silo;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{siloId} did not become {status} (is {silo?.Status})");
            await Task.Delay(100);
        }
    }

    private async Task<System.Text.Json.JsonElement> WaitForScaleAsync(Func<System.Text.Json.JsonElement, bool> condition, ChatTraffic traffic, string[] users)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        for (int round = 2; ; round++)
        {
            await Task.WhenAll(users.Select(u => traffic.SendAsync(u, round, 0)));
            var (status, body) = await _cluster.GetAsync("/v1/cluster/scale");
            status.Should().Be(200);
            if (condition(body)) return body;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the scale signal stayed {body}");
            await Task.Delay(100);
        }
    }
}
