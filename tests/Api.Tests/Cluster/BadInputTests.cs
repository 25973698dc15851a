using System.Net;
using FluentAssertions;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.Cluster;

/// <summary>Bad requests and a failing database get clear errors; nothing is half-written.</summary>
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
        (await _cluster.GetAsync("/v1/conversations/ok-user")).Body.GetProperty("messages").GetArrayLength().Should().Be(0, "a refused message is never stored");
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
    public async Task PostgreSQL_going_away_gives_503_and_no_partial_turns_then_service_resumes()
    {
        (await _cluster.PostAsync("/v1/conversations/db-user/messages", new { content = "before" })).Status.Should().Be(200);
        await _cluster.Postgres.StopAsync(CancellationToken.None);
        var (status, problem) = await _cluster.PostAsync("/v1/conversations/db-user/messages", new { content = "during" });
        status.Should().Be(503);
        problem.GetProperty("detail").GetString().Should().NotBeNullOrWhiteSpace();

        await _cluster.Postgres.RestartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        int after;
        do
        {
            await Task.Delay(500);
            after = (await _cluster.PostAsync("/v1/conversations/db-user/messages", new { content = "after" }, idempotencyKey: "after-1")).Status;
        }
        while (after != 200 && DateTime.UtcNow < deadline);
        after.Should().Be(200);
        var (_, history) = await _cluster.GetAsync("/v1/conversations/db-user");
        history.GetProperty("messages").EnumerateArray().Where(m => m.GetProperty("role").GetString() == "user")
            .Select(m => m.GetProperty("content").GetString()).Should().Equal("before", "after");
    }

    [Fact]
    public async Task A_silo_that_cannot_reach_PostgreSQL_at_start_exits_with_a_clear_error()
    {
        int unusedPort = FreePort.Next();
        await using var silo = ServiceProcess.Start("orphan", RepositoryPaths.BuiltAssembly("Silo", "Qwen.Silo.dll"), FreePort.Next(),
            [$"--Postgres:ConnectionString=Host=127.0.0.1;Port={unusedPort};Username=postgres;Database=none;Timeout=2", $"--Model:Path={_cluster.ModelDirectory}"]);
        var waited = DateTime.UtcNow;
        while (!silo.HasExited && DateTime.UtcNow - waited < TimeSpan.FromSeconds(60)) await Task.Delay(200);
        silo.HasExited.Should().BeTrue();
        silo.RecentOutput.Should().Contain("error:").And.Contain(unusedPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
