using System.Net;
using FluentAssertions;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.Cluster;

/// <summary>Bad requests get clear errors, a retried turn is stored once, a silo without its database says why.</summary>
public sealed class BadInputTests(BadInputTests.OneSiloCluster fixture) : IClassFixture<BadInputTests.OneSiloCluster>
{
    private readonly TestCluster _cluster = fixture.Cluster;

    /// <summary>One cluster shared by every test of this class.</summary>
    public sealed class OneSiloCluster : IAsyncLifetime
    {
        public TestCluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(silos: 1);

        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }

    [Theory]
    [InlineData("bad%20id", "{\"content\":\"hi\"}", "user id")]
    [InlineData("%E7%94%A8%E6%88%B7", "{\"content\":\"hi\"}", "user id")]
    [InlineData("ok-user", "{\"content\":\"\"}", "empty")]
    [InlineData("ok-user", "{\"content\":\"   \"}", "empty")]
    [InlineData("ok-user", "{\"content\":42}", "must be a string")]
    [InlineData("ok-user", "{}", "required")]
    [InlineData("ok-user", "{\"content\":\"unterminated", "not valid JSON")]
    [InlineData("ok-user", "[\"content\"]", "JSON object")]
    [InlineData("ok-user", "{\"content\":\"a\\u0000b\"}", "NUL")]
    [InlineData("ok-user", "{\"content\":\"a\\ud800b\"}", "surrogate")]
    public async Task Malformed_chat_requests_get_400_with_a_reason(string user, string body, string reason)
    {
        var (status, problem) = await _cluster.SendRawAsync(HttpMethod.Post, $"/v1/conversations/{user}/messages", body);
        status.Should().Be(400);
        problem.GetProperty("detail").GetString().Should().Contain(reason);
        (await _cluster.GetAsync("/v1/conversations/ok-user")).Status
            .Should().Be(404, "a refused message is never stored, so there is no conversation");
    }

    [Fact]
    public async Task Oversized_messages_are_rejected_and_the_service_carries_on()
    {
        var (status, problem) = await _cluster.PostAsync("/v1/conversations/big-user/messages", new { content = new string('字', 5000) });
        status.Should().Be(400);
        problem.GetProperty("detail").GetString().Should().Contain("limit");
        var (hugeStatus, _) = await _cluster.SendRawAsync(HttpMethod.Post, "/v1/conversations/big-user/messages",
            "{\"content\":\"" + new string('a', 2_000_000) + "\"}");
        hugeStatus.Should().Be((int)HttpStatusCode.RequestEntityTooLarge);
        (await _cluster.PostAsync("/v1/conversations/big-user/messages", new { content = "short" })).Status.Should().Be(200);
    }

    [Fact]
    public async Task The_same_Idempotency_Key_twice_gets_the_stored_turn_back_and_stores_it_once()
    {
        var (status, first) = await _cluster.PostAsync("/v1/conversations/idem-user/messages", new { content = "only once" }, idempotencyKey: "idem-1");
        status.Should().Be(200, first.ToString());
        var (again, second) = await _cluster.PostAsync("/v1/conversations/idem-user/messages", new { content = "only once" }, idempotencyKey: "idem-1");
        again.Should().Be(200, second.ToString());

        second.GetProperty("finish_reason").GetString().Should().Be("stored", "a retried turn is answered from storage, not run again");
        second.GetProperty("reply").GetString().Should().Be(first.GetProperty("reply").GetString());
        second.GetProperty("turn").GetInt32().Should().Be(1);
        second.GetProperty("turn_id").GetString().Should().Be("idem-1");
        var (_, history) = await _cluster.GetAsync("/v1/conversations/idem-user");
        history.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString())
            .Should().Equal(["only once", first.GetProperty("reply").GetString()], "the turn is stored once");

        var (reused, problem) = await _cluster.PostAsync("/v1/conversations/idem-user/messages", new { content = "something else" },
            idempotencyKey: "idem-1");
        reused.Should().Be(400, "a key names one turn");
        problem.GetProperty("detail").GetString().Should().Contain("already used");
    }

    [Fact]
    public async Task An_overlong_Idempotency_Key_is_refused_and_nothing_is_stored()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _cluster.ApiUrl + "/v1/conversations/long-key-user/messages")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { content = "twice?" }),
        };
        request.Headers.Add("Idempotency-Key", new string('k', 129));
        using var response = await _cluster.Http.SendAsync(request);
        ((int)response.StatusCode).Should().Be(400, "a key that cannot be kept is refused, never replaced by a fresh one");
        (await response.Content.ReadAsStringAsync()).Should().Contain("Idempotency-Key");
        (await _cluster.GetAsync("/v1/conversations/long-key-user")).Status.Should().Be(404, "nothing was stored, so there is no conversation");
    }

    [Fact]
    public async Task A_clustered_Api_logs_the_length_of_user_text_not_the_text()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _cluster.ApiUrl + "/v1/sentiment")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { text = "my private words" }),
        };
        request.Headers.Add("X-Request-Id", "cluster-log-text");
        using var response = await _cluster.Http.SendAsync(request);
        ((int)response.StatusCode).Should().Be(200);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        string? line;
        while ((line = _cluster.Api!.RecentOutput.Split('\n').FirstOrDefault(l => l.Contains("[REQ-cluster-log-text]", StringComparison.Ordinal))) is null
               && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        line.Should().NotBeNull().And.Contain("INPUT=\"<16 chars>\"", "Api:LogText defaults to false in clustered mode");
        line.Should().NotContain("private");
    }

    [Fact]
    public async Task A_silo_whose_cluster_certificate_cannot_be_loaded_exits_2_with_one_error_line()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}.pfx");
        await using var silo = ServiceProcess.Start("bad-tls", RepositoryPaths.BuiltAssembly("Silo", "Qwen.Silo.dll"), FreePort.Next(),
        [
            $"--Model:Path={_cluster.ModelDirectory}", $"--Cluster:Redis={_cluster.Redis.Configuration}", $"--Cluster:ClusterId={_cluster.ClusterId}",
            $"--Cluster:SiloPort={FreePort.Next()}", $"--Cluster:GatewayPort={FreePort.Next()}", "--Cluster:AdvertisedAddress=127.0.0.1",
            $"--Cluster:Tls:CertificatePath={missing}",
        ]);
        (await silo.WaitForExitAsync(TimeSpan.FromSeconds(60))).Should().Be(2, silo.RecentOutput);
        silo.RecentOutput.Should().Contain($"error: Cluster:Tls: cannot load the certificate '{missing}'").And.NotContain("   at ");
    }

    [Fact]
    public async Task A_silo_that_cannot_reach_PostgreSQL_at_start_exits_with_a_clear_error()
    {
        int unusedPort = FreePort.Next();
        await using var silo = ServiceProcess.Start("orphan", RepositoryPaths.BuiltAssembly("Silo", "Qwen.Silo.dll"), FreePort.Next(),
        [
            $"--Postgres:ConnectionString=Host=127.0.0.1;Port={unusedPort};Username=postgres;Database=none;Timeout=2",
            $"--Model:Path={_cluster.ModelDirectory}", $"--Cluster:Redis={_cluster.Redis.Configuration}", $"--Cluster:ClusterId={_cluster.ClusterId}",
            $"--Cluster:SiloPort={FreePort.Next()}", $"--Cluster:GatewayPort={FreePort.Next()}", "--Cluster:AdvertisedAddress=127.0.0.1",
        ]);
        (await silo.WaitForExitAsync(TimeSpan.FromSeconds(60))).Should().NotBe(0);
        silo.RecentOutput.Should().Contain("error:").And.Contain(unusedPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
