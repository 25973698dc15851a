using System.Text.Json;
using FluentAssertions;
using Npgsql;
using Qwen.Api.Tests.Cluster;
using Qwen.Api.Tests.PublicApi;
using Qwen.Grains.Interfaces;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.Security;

/// <summary>
/// <c>qwen keys</c> against the cluster's real PostgreSQL, and a clustered Api that checks those keys
/// through the silos: tenants and admin flags as created, a revoked key refused within the cache bound.
/// </summary>
public sealed class ClusterApiKeyTests
{
    private const string OperatorKey = "test-operator-key-0123456789";

    [Fact]
    public async Task Keys_made_with_qwen_keys_work_on_the_clustered_Api_and_a_revoked_one_is_refused_within_the_cache_bound()
    {
        await using var cluster = await TestCluster.StartAsync(1, apiArguments: ["--Auth:KeyCacheDuration=00:00:01"], adminKey: OperatorKey);
        // The silo migrated the schema, api_keys included, when it started.

        var create = await QwenAsync(cluster, "keys", "create", "--tenant", "acme", "--name", "test client", "--json");
        create.ExitCode.Should().Be(0, create.Stderr);
        using var created = JsonDocument.Parse(create.Stdout);
        string keyId = created.RootElement.GetProperty("key_id").GetString()!;
        string key = created.RootElement.GetProperty("key").GetString()!;
        key.Should().StartWith($"qwen-{keyId}-");
        created.RootElement.GetProperty("tenant").GetString().Should().Be("acme");

        var createAdmin = await QwenAsync(cluster, "keys", "create", "--tenant", "ops", "--admin");
        createAdmin.ExitCode.Should().Be(0, createAdmin.Stderr);
        createAdmin.Stdout.Should().Contain("shown only this once");
        string adminKey = createAdmin.Stdout.Split('\n').Single(l => l.StartsWith("key: ", StringComparison.Ordinal))[5..].Trim();

        // Only ids and hashes are stored.
        await using (var db = NpgsqlDataSource.Create(cluster.ConnectionString))
        {
            await using var command = db.CreateCommand("SELECT key_hash FROM api_keys WHERE key_id = $1");
            command.Parameters.AddWithValue(keyId);
            (await command.ExecuteScalarAsync()).Should().Be(ApiKeyHash.Of(key));
        }
        var list = await QwenAsync(cluster, "keys", "list");
        list.ExitCode.Should().Be(0, list.Stderr);
        list.Stdout.Should().Contain(keyId).And.Contain("acme").And.Contain("test client").And.NotContain(key).And.NotContain(adminKey);

        // The keys work at once, each with its tenant and flag.
        var user = new ApiClient(cluster.ApiUrl);
        user.Http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        (await user.PostAsync("/v1/conversations/carol/messages", new { content = "hello" })).Status.Should().Be(200);
        (await user.GetAsync("/v1/conversations/carol")).Status.Should().Be(200);
        (await user.GetAsync("/v1/cluster/status")).Status.Should().Be(403, "the key is not an admin key");
        var admin = new ApiClient(cluster.ApiUrl);
        admin.Http.DefaultRequestHeaders.Add("X-Api-Key", adminKey);
        (await admin.GetAsync("/v1/cluster/status")).Status.Should().Be(200);
        (await admin.GetAsync("/v1/conversations/carol")).Status.Should().Be(404, "the admin key belongs to tenant ops, not acme");
        var anonymous = new ApiClient(cluster.ApiUrl);
        (await anonymous.PostAsync("/v1/sentiment", new { text = "x" })).Status.Should().Be(401);
        anonymous.Http.DefaultRequestHeaders.Add("X-Api-Key", "qwen-000000000000-invented");
        (await anonymous.PostAsync("/v1/sentiment", new { text = "x" })).Status.Should().Be(401);

        var revoke = await QwenAsync(cluster, "keys", "revoke", keyId);
        revoke.ExitCode.Should().Be(0, revoke.Stderr);
        revoke.Stdout.Should().Contain($"revoked key {keyId}");
        using (var listed = JsonDocument.Parse((await QwenAsync(cluster, "keys", "list", "--json")).Stdout))
        {
            var row = listed.RootElement.EnumerateArray().Single(k => k.GetProperty("key_id").GetString() == keyId);
            row.GetProperty("revoked_at").ValueKind.Should().Be(JsonValueKind.String);
            row.TryGetProperty("key", out _).Should().BeFalse();
        }

        // Refused once the Api's cached answer (1 s here) expires; wait for it, within a generous bound.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        int status;
        while ((status = (await user.PostAsync("/v1/sentiment", new { text = "x" })).Status) != 401 && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        status.Should().Be(401, "a revoked key is refused within the key cache's duration");
        (await admin.GetAsync("/v1/cluster/status")).Status.Should().Be(200, "other keys are unaffected");

        var unknown = await QwenAsync(cluster, "keys", "revoke", "no-such-key");
        unknown.ExitCode.Should().Be(2);
        unknown.Stderr.Should().Contain("there is no key with id 'no-such-key'");
        user.Dispose();
        admin.Dispose();
        anonymous.Dispose();
    }

    [Fact]
    public async Task Before_any_silo_runs_a_configured_admin_key_reads_the_scaling_signal_and_other_keys_get_503()
    {
        await using var cluster = await TestCluster.StartAsync(0, adminKey: OperatorKey);

        var (status, scale) = await cluster.GetAsync("/v1/cluster/scale");
        status.Should().Be(200, "the autoscaler's key is in the Api's configuration, so it works before the first silo starts");
        scale.GetProperty("recommended").GetInt32().Should().BeGreaterThanOrEqualTo(1);

        using var other = new ApiClient(cluster.ApiUrl);
        other.Http.DefaultRequestHeaders.Add("X-Api-Key", "qwen-0123456789ab-not-checkable-yet");
        using var response = await other.Http.GetAsync(cluster.ApiUrl + "/v1/models");
        ((int)response.StatusCode).Should().Be(503, "the key table is asked through the silos, and there is none");
        response.Headers.RetryAfter.Should().NotBeNull();
        (await response.Content.ReadAsStringAsync()).Should().Contain("cannot be checked now");
    }

    [Fact]
    public async Task Qwen_keys_says_how_to_give_the_database_and_names_a_database_without_the_table()
    {
        var noConnection = await CommandLine.RunAsync("dotnet", [RepositoryPaths.BuiltAssembly("Cli", "qwen.dll"), "keys", "list"],
            new Dictionary<string, string> { ["Postgres__ConnectionString"] = "" }, TimeSpan.FromMinutes(1));
        noConnection.ExitCode.Should().Be(2);
        noConnection.Stderr.Should().Contain("error: give the database with --connection");

        await using var postgres = await PostgresServer.StartNewAsync(CancellationToken.None);
        string connection = await postgres.CreateDatabaseAsync("fresh", CancellationToken.None);
        var unmigrated = await CommandLine.RunAsync("dotnet",
            [RepositoryPaths.BuiltAssembly("Cli", "qwen.dll"), "keys", "list", "--connection", connection], null, TimeSpan.FromMinutes(1));
        unmigrated.ExitCode.Should().Be(1);
        unmigrated.Stderr.Should().Contain("run 'qwen db migrate' first");
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> QwenAsync(TestCluster cluster, params string[] arguments) =>
        CommandLine.RunAsync("dotnet", [RepositoryPaths.BuiltAssembly("Cli", "qwen.dll"), .. arguments],
            new Dictionary<string, string> { ["Postgres__ConnectionString"] = cluster.ConnectionString }, TimeSpan.FromMinutes(1));
}
