using Npgsql;

namespace Qwen.TestSupport;

/// <summary>
/// A private PostgreSQL 15 server for tests: its own data directory under the temp directory,
/// listening on 127.0.0.1 at a free port with trust authentication, and one database created
/// for the caller. <see cref="StopAsync"/> and <see cref="RestartAsync"/> simulate the database
/// going away mid-run and coming back; disposing stops the server and deletes its directory.
/// </summary>
public sealed class PostgresServer : IDisposable, IAsyncDisposable
{
    public const string DefaultDatabase = "qwen_test";
    private const string DirectoryPrefix = "qwen-pg-";
    private const string OwnerFileName = "owner.pid";

    // Debian's layout; QWEN_TEST_POSTGRES_BIN points elsewhere on other machines.
    private static readonly string BinDirectory =
        Environment.GetEnvironmentVariable("QWEN_TEST_POSTGRES_BIN") ?? "/usr/lib/postgresql/15/bin";

    // initdb refuses to run as root, so on our root-run machines the server runs as postgres.
    private static readonly bool RunAsPostgresUser = Environment.UserName == "root";

    private static readonly Lock LiveGate = new();
    private static readonly HashSet<PostgresServer> Live = [];
    private static readonly Lazy<bool> OrphansSwept = new(SweepOrphans);

    private readonly string _rootDirectory;
    private bool disposed;

    static PostgresServer()
    {
        // A test run that ends without disposing its fixtures must not leave servers behind.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            PostgresServer[] remaining;
            lock (LiveGate)
            {
                remaining = [.. Live];
            }

            foreach (PostgresServer server in remaining)
            {
                server.Dispose();
            }
        };
    }

    private PostgresServer(string rootDirectory, IReadOnlyList<string>? extraListenAddresses = null)
    {
        _rootDirectory = rootDirectory;
        _extraListenAddresses = extraListenAddresses ?? [];
    }

    private readonly IReadOnlyList<string> _extraListenAddresses;

    public string Host => "127.0.0.1";

    public int Port { get; private set; }

    public bool IsRunning { get; private set; }

    /// <summary>The data directory (owned by the server's user).</summary>
    public string DataDirectory => Path.Combine(_rootDirectory, "data");

    public string LogFile => Path.Combine(_rootDirectory, "server.log");

    /// <summary>Connection string of <see cref="DefaultDatabase"/>.</summary>
    public string ConnectionString => ConnectionStringFor(DefaultDatabase);

    public static Task<PostgresServer> StartNewAsync(CancellationToken cancellationToken) => StartNewAsync(cancellationToken, [], null);

    /// <summary>
    /// A server that also listens on <paramref name="extraListenAddresses"/> (which must exist) and
    /// trusts clients from <paramref name="trustedNetwork"/> (CIDR), e.g. test hosts in network namespaces.
    /// </summary>
    public static async Task<PostgresServer> StartNewAsync(CancellationToken cancellationToken, IReadOnlyList<string> extraListenAddresses,
        string? trustedNetwork)
    {
        _ = OrphansSwept.Value;
        string root = Directory.CreateTempSubdirectory(DirectoryPrefix).FullName;
        var server = new PostgresServer(root, extraListenAddresses);
        lock (LiveGate)
        {
            Live.Add(server);
        }

        try
        {
            await File.WriteAllTextAsync(Path.Combine(root, OwnerFileName), Environment.ProcessId.ToString(), cancellationToken);
            if (RunAsPostgresUser)
            {
                await ChildProcess.RunAsync("chown", ["-R", "postgres:postgres", root], root, cancellationToken);
            }

            await server.RunToolAsync(
                "initdb",
                ["-D", server.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"],
                cancellationToken);
            if (trustedNetwork is not null)
            {
                await File.AppendAllTextAsync(Path.Combine(server.DataDirectory, "pg_hba.conf"), $"\nhost all all {trustedNetwork} trust\n", cancellationToken);
            }

            await server.StartOnFreePortAsync(cancellationToken);
            await server.CreateDatabaseAsync(DefaultDatabase, cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = Host,
        Port = Port,
        Username = "postgres",
        Database = database,
        Timeout = 5,
    }.ConnectionString;

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(ConnectionStringFor("postgres") + ";Pooling=false");
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return ConnectionStringFor(name);
    }

    /// <summary>Kills the server the way a crash would (pg_ctl stop -m immediate).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!IsRunning)
        {
            return;
        }

        await RunToolAsync("pg_ctl", ["stop", "-D", DataDirectory, "-m", "immediate", "-w"], cancellationToken);
        IsRunning = false;
    }

    /// <summary>Starts the server again on the same port and data (after crash recovery).</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        await StopAsync(cancellationToken);
        await StartAsync(cancellationToken);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        lock (LiveGate)
        {
            Live.Remove(this);
        }

        try
        {
            if (IsRunning || File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                await RunToolAsync("pg_ctl", ["stop", "-D", DataDirectory, "-m", "immediate", "-w"], CancellationToken.None);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone; the directory is deleted below either way.
        }

        IsRunning = false;
        DeleteDirectory(_rootDirectory);
    }

    private async Task StartOnFreePortAsync(CancellationToken cancellationToken)
    {
        // The free port may be taken between choosing and binding it: try a few.
        for (int attempt = 1; ; attempt++)
        {
            Port = FreePort.Next();
            try
            {
                await StartAsync(cancellationToken);
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
            }
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        string settings = string.Join(' ',
            $"-c listen_addresses={string.Join(',', ["127.0.0.1", .. _extraListenAddresses])}",
            $"-c port={Port}",
            $"-c unix_socket_directories={_rootDirectory}",
            "-c max_connections=200",
            // Throwaway data: skip fsync. Commits stay synchronous, so an immediate stop keeps every acknowledged commit.
            "-c fsync=off");
        try
        {
            await RunToolAsync("pg_ctl", ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-o", settings], cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            string log = File.Exists(LogFile) ? await File.ReadAllTextAsync(LogFile, cancellationToken) : "(no log)";
            throw new InvalidOperationException($"PostgreSQL did not start on port {Port}: {e.Message}\n{log}", e);
        }

        IsRunning = true;
    }

    private Task<string> RunToolAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        string path = Path.Combine(BinDirectory, tool);
        return RunAsPostgresUser
            ? ChildProcess.RunAsync("runuser", ["-u", "postgres", "--", path, .. arguments], _rootDirectory, cancellationToken)
            : ChildProcess.RunAsync(path, arguments, _rootDirectory, cancellationToken);
    }

    /// <summary>Stops and deletes servers left by test processes that died without cleaning up.</summary>
    private static bool SweepOrphans()
    {
        foreach (string directory in Directory.EnumerateDirectories(Path.GetTempPath(), DirectoryPrefix + "*"))
        {
            string ownerFile = Path.Combine(directory, OwnerFileName);
            if (!File.Exists(ownerFile)
                || !int.TryParse(File.ReadAllText(ownerFile), out int owner)
                || Directory.Exists($"/proc/{owner}"))
            {
                continue;
            }

            var orphan = new PostgresServer(directory) { IsRunning = true };
            orphan.Dispose();
        }

        return true;
    }

    private static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Leave it for the orphan sweep of a later run.
        }
    }
}
