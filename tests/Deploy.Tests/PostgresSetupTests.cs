using System.Globalization;
using System.Text.RegularExpressions;
using FluentAssertions;
using Npgsql;
using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary>
/// deploy/postgres/setup.sh against a private PostgreSQL server: the first run creates the role,
/// the database and the schema (with the qwen tool's migrator), a second run changes nothing,
/// and a silo configured from deploy/systemd/silo.env and started with the unit's command line
/// keeps its conversations through that role and joins the membership in a Redis server run
/// from deploy/redis/qwen.conf.
/// </summary>
[Collection(PostgresServerFixture.CollectionName)]
public sealed class PostgresSetupTests(PostgresServerFixture postgres)
{
    private const string Password = "s3cret;pass=\"word'";

    [Fact]
    public async Task Setup_run_twice_creates_role_database_and_schema_then_changes_nothing_and_a_silo_uses_them()
    {
        const string role = "qwen_deploy";
        const string database = "qwen_deploy";

        var first = await SetupAsync(["--database", database, "--role", role], Password);

        first.ExitCode.Should().Be(0, first.ToString());
        first.Stdout.Should().Contain($"created role '{role}'")
            .And.Contain($"created database '{database}' owned by '{role}'")
            .And.Contain("applied conversations v1").And.Contain("applied conversations v2").And.Contain("applied conversations v3")
            .And.Contain("applied api_keys v1");
        first.Stdout.Should().NotContain("membership", "membership lives in Redis now; the database holds conversations only");
        var afterFirst = await SnapshotAsync(role, database);
        afterFirst.Where(line => line.StartsWith("table ", StringComparison.Ordinal)).Should()
            .BeEquivalentTo([$"table api_keys owner={role}", $"table conversations owner={role}", $"table schema_version owner={role}",
                $"table turns owner={role}"]);
        afterFirst.Should().Contain($"role {role} super=False createrole=False createdb=False login=True scram=True")
            .And.Contain($"database owner={role} acl={{{role}=CTc/{role}}}")
            .And.Contain($"table turns owner={role}")
            .And.Contain($"table conversations owner={role}");

        var second = await SetupAsync(["--database", database, "--role", role], Password);

        second.ExitCode.Should().Be(0, second.ToString());
        second.Stdout.Should().Contain($"role '{role}' exists; left unchanged")
            .And.Contain($"database '{database}' exists; left unchanged")
            .And.Contain("schema up to date: api_keys v1, conversations v3");
        second.Stdout.Should().NotContain("created").And.NotContain("applied");
        (await SnapshotAsync(role, database)).Should().Equal(afterFirst, "a second run must change nothing");

        await SiloJoinsThroughTheRoleAsync(role, database);
    }

    [Fact]
    public async Task Setup_refuses_to_create_a_role_without_a_password_and_creates_nothing()
    {
        var run = await SetupAsync(["--database", "qwen_nopass", "--role", "qwen_nopass"], password: null);

        run.ExitCode.Should().Be(2, run.ToString());
        run.Stderr.Should().Contain("role 'qwen_nopass' does not exist yet: give its password in QWEN_DB_PASSWORD");
        (await ScalarAsync("SELECT count(*) FROM pg_roles WHERE rolname = 'qwen_nopass'")).Should().Be(0L);
        (await ScalarAsync("SELECT count(*) FROM pg_database WHERE datname = 'qwen_nopass'")).Should().Be(0L);
    }

    [Fact]
    public async Task Setup_names_the_server_it_cannot_reach_and_refuses_bad_names()
    {
        int closedPort = FreePort.Next();
        var unreachable = await ScriptRun.RunAsync(DeployPaths.Deploy("postgres", "setup.sh"),
            ["--host", "127.0.0.1", "--port", closedPort.ToString(CultureInfo.InvariantCulture), "--qwen", DeployPaths.QwenCommand],
            new Dictionary<string, string?> { ["QWEN_DB_PASSWORD"] = Password, ["PGPASSWORD"] = null });
        unreachable.ExitCode.Should().Be(1, unreachable.ToString());
        unreachable.Stderr.Should().Contain($"cannot connect to PostgreSQL at 127.0.0.1:{closedPort}");

        var badRole = await SetupAsync(["--role", "Qwen; DROP"], Password);
        badRole.ExitCode.Should().Be(2, badRole.ToString());
        badRole.Stderr.Should().Contain("role name 'Qwen; DROP' must be lower-case letters, digits and _");

        var unknown = await SetupAsync(["--databse", "x"], Password);
        unknown.ExitCode.Should().Be(2, unknown.ToString());
        unknown.Stderr.Should().Contain("unknown argument '--databse'");
    }

    private async Task SiloJoinsThroughTheRoleAsync(string role, string database)
    {
        string model = Directory.CreateTempSubdirectory("qwen-deploy-model-").FullName;
        try
        {
            ModelDirectoryBuilder.Build(model, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
            await using var redis = await RedisServer.StartAsync("redis1pass2word3");
            var environment = EnvironmentFile.Read(DeployPaths.Deploy("systemd", "silo.env"));
            environment["Cluster__Redis"] = redis.Configuration;
            environment["Cluster__AdvertisedAddress"] = "127.0.0.1";
            environment["Postgres__ConnectionString"] = new NpgsqlConnectionStringBuilder
            {
                Host = postgres.Server.Host, Port = postgres.Server.Port, Database = database, Username = role, Password = Password,
            }.ConnectionString;
            environment["Model__Path"] = model;
            environment["Model__Threads"] = "1";
            int port = FreeInstancePort();

            // The silo unit's own command line, as systemd expands it for qwen-silo@PORT on this host.
            var arguments = SiloUnitArguments(port, environment);
            arguments.Should().Contain([$"--Cluster:SiloPort=1{port}", $"--Cluster:GatewayPort=2{port}"]);
            arguments.Should().NotContain(a => a.Contains(redis.Password, StringComparison.Ordinal) || a.Contains(Password, StringComparison.Ordinal),
                "passwords come from the environment file, never the command line");
            await using var silo = ServiceProcess.Start("silo", RepositoryPaths.BuiltAssembly("Silo", "Qwen.Silo.dll"), port, arguments, environment);
            await silo.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));

            // Registered in the Redis membership at its advertised address and derived silo port.
            string members = await MembershipAsync(redis);
            members.Should().Contain($"127.0.0.1:1{port}", silo.RecentOutput);
            (await ScalarAsync("SELECT count(*) FROM schema_version WHERE module = 'conversations'", database)).Should().Be(3L, "every migration, applied once");

            (await silo.StopGracefullyAsync(TimeSpan.FromSeconds(90))).Should().Be(0, silo.RecentOutput);
            silo.RecentOutput.Should().NotContain("error:");
        }
        finally
        {
            Directory.Delete(model, recursive: true);
        }
    }

    /// <summary>Every key and hash field Redis holds (Orleans' membership table), as text.</summary>
    private static async Task<string> MembershipAsync(RedisServer redis)
    {
        var keys = await redis.CliAsync("KEYS", "*");
        keys.ExitCode.Should().Be(0, keys.ToString());
        var text = new System.Text.StringBuilder();
        foreach (string key in keys.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var type = await redis.CliAsync("TYPE", key);
            var value = type.Stdout.Trim() == "hash" ? await redis.CliAsync("HGETALL", key) : await redis.CliAsync("GET", key);
            text.Append(key).Append('\n').Append(value.Stdout);
        }
        return text.ToString();
    }

    /// <summary>A 4-digit HTTP port whose derived silo (1PORT) and gateway (2PORT) ports are free too.</summary>
    private static int FreeInstancePort()
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int port = Random.Shared.Next(7000, 10000);
            if (new[] { port, 10000 + port, 20000 + port }.All(IsFree)) return port;
        }
        throw new InvalidOperationException("no free 4-digit port with free derived ports");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>The arguments of the unit's ExecStart with %i, %H and ${VAR} expanded.</summary>
    private static List<string> SiloUnitArguments(int port, IReadOnlyDictionary<string, string> environment)
    {
        string unit = File.ReadAllText(DeployPaths.Deploy("systemd", "qwen-silo@.service"));
        string execStart = Regex.Match(unit, @"^ExecStart=/opt/qwen/silo/Qwen\.Silo (.*)$", RegexOptions.Multiline).Groups[1].Value;
        execStart.Should().NotBeEmpty("the unit runs /opt/qwen/silo/Qwen.Silo");
        string expanded = Regex.Replace(execStart, @"\$\{(\w+)\}", m => environment[m.Groups[1].Value])
            .Replace("%i", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%H", Environment.MachineName, StringComparison.Ordinal);
        return [.. expanded.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
    }

    private Task<ScriptRun> SetupAsync(IEnumerable<string> arguments, string? password) =>
        ScriptRun.RunAsync(
            DeployPaths.Deploy("postgres", "setup.sh"),
            [
                "--host", postgres.Server.Host,
                "--port", postgres.Server.Port.ToString(CultureInfo.InvariantCulture),
                "--admin-user", "postgres",
                "--qwen", DeployPaths.QwenCommand,
                .. arguments,
            ],
            new Dictionary<string, string?> { ["QWEN_DB_PASSWORD"] = password, ["PGPASSWORD"] = null, ["PGHOST"] = null, ["PGUSER"] = null });

    /// <summary>Everything setup.sh may touch, as the administrator sees it.</summary>
    private async Task<List<string>> SnapshotAsync(string role, string database)
    {
        var lines = new List<string>();
        await using (var admin = await OpenAsync("postgres"))
        {
            await using var roles = new NpgsqlCommand(
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolpassword FROM pg_authid WHERE rolname = @r", admin);
            roles.Parameters.AddWithValue("r", role);
            await using (var reader = await roles.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    string hash = reader.GetString(5);
                    lines.Add($"role {reader.GetString(0)} super={reader.GetBoolean(1)} createrole={reader.GetBoolean(2)} " +
                              $"createdb={reader.GetBoolean(3)} login={reader.GetBoolean(4)} scram={hash.StartsWith("SCRAM-SHA-256$", StringComparison.Ordinal)}");
                    lines.Add($"role password hash {hash}");
                }
            }

            await using var databases = new NpgsqlCommand(
                "SELECT pg_get_userbyid(datdba), coalesce(datacl::text, '') FROM pg_database WHERE datname = @d", admin);
            databases.Parameters.AddWithValue("d", database);
            await using (var reader = await databases.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync()) lines.Add($"database owner={reader.GetString(0)} acl={reader.GetString(1)}");
            }
        }

        await using (var db = await OpenAsync(database))
        {
            await using var tables = new NpgsqlCommand(
                "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", db);
            await using (var reader = await tables.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync()) lines.Add($"table {reader.GetString(0)} owner={reader.GetString(1)}");
            }

            await using var versions = new NpgsqlCommand(
                "SELECT module, version, applied_at FROM schema_version ORDER BY module, version", db);
            await using (var reader = await versions.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    lines.Add($"schema {reader.GetString(0)} v{reader.GetInt32(1)} at {reader.GetDateTime(2):O}");
                }
            }
        }

        return lines;
    }

    private async Task<object?> ScalarAsync(string sql, string database = "postgres")
    {
        await using var connection = await OpenAsync(database);
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    private async Task<NpgsqlConnection> OpenAsync(string database)
    {
        var connection = new NpgsqlConnection(postgres.Server.ConnectionStringFor(database) + ";Pooling=false");
        await connection.OpenAsync();
        return connection;
    }
}
