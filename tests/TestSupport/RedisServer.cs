using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Qwen.TestSupport;

/// <summary>
/// A private redis-server (Debian's package) for tests: its own directory under the temp directory,
/// listening on 127.0.0.1 (and any extra addresses) at a free port, with no snapshots and no
/// append-only file. <see cref="StopAsync"/>/<see cref="StartAsync"/> take it away and bring it back
/// with its data (a restart of a persistent Redis); <see cref="Pause"/>/<see cref="Resume"/> freeze it
/// (connections stay open, nothing answers). Disposing kills it and deletes its directory.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private const string DirectoryPrefix = "qwen-redis-";
    private const string OwnerFileName = "owner.pid";
    private const string ServerPidFileName = "server.pid";

    private static readonly Lock LiveGate = new();
    private static readonly HashSet<RedisServer> Live = [];
    private static readonly Lazy<bool> OrphansSwept = new(SweepOrphans);

    private readonly string _directory;
    private readonly IReadOnlyList<string> _bindAddresses;
    private Process? _process;
    private bool _paused;
    private bool _disposed;

    static RedisServer()
    {
        // A test run that ends without disposing its fixtures must not leave servers behind.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            RedisServer[] remaining;
            lock (LiveGate) remaining = [.. Live];
            foreach (var server in remaining) server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        };
    }

    private RedisServer(string directory, IReadOnlyList<string> bindAddresses)
    {
        _directory = directory;
        _bindAddresses = bindAddresses;
    }

    public string Host => "127.0.0.1";

    public int Port { get; private set; }

    /// <summary>The StackExchange.Redis configuration string (what --Cluster:Redis takes).</summary>
    public string Configuration => $"{Host}:{Port}";

    public bool IsRunning => _process is { HasExited: false };

    public string LogFile => Path.Combine(_directory, "redis.log");

    /// <summary>Where redis-server is: Debian's path, or QWEN_TEST_REDIS_SERVER.</summary>
    public static string Executable { get; } = Environment.GetEnvironmentVariable("QWEN_TEST_REDIS_SERVER") ?? "/usr/bin/redis-server";

    /// <param name="extraBindAddresses">More addresses to listen on (which must exist), e.g. a test network's gateway.</param>
    public static async Task<RedisServer> StartNewAsync(CancellationToken cancellationToken, IReadOnlyList<string>? extraBindAddresses = null)
    {
        if (!File.Exists(Executable))
            throw new InvalidOperationException($"{Executable} is not installed (apt-get install -y redis-server)");
        _ = OrphansSwept.Value;
        string directory = Directory.CreateTempSubdirectory(DirectoryPrefix).FullName;
        var server = new RedisServer(directory, ["127.0.0.1", .. extraBindAddresses ?? []]);
        lock (LiveGate) Live.Add(server);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, OwnerFileName), Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
                cancellationToken);
            // The free port may be taken between choosing and binding it: try a few.
            for (int attempt = 1; ; attempt++)
            {
                server.Port = FreePort.Next();
                try
                {
                    await server.StartAsync(cancellationToken);
                    return server;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                }
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server (again) on its port, loading the data a <see cref="StopAsync"/> saved.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (IsRunning) return;
        var info = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        foreach (string argument in (string[])
                 [
                     "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", .. _bindAddresses,
                     "--dir", _directory, "--logfile", LogFile, "--daemonize", "no", "--save", "", "--appendonly", "no",
                     // Test hosts in network namespaces connect from a private network, without a password.
                     "--protected-mode", "no",
                 ])
            info.ArgumentList.Add(argument);
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start redis-server");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        string pid = process.Id.ToString(CultureInfo.InvariantCulture);
        await File.WriteAllTextAsync(Path.Combine(_directory, ServerPidFileName), pid, cancellationToken);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await PingAsync(cancellationToken))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                if (!process.HasExited) process.Kill();
                string log = File.Exists(LogFile) ? await File.ReadAllTextAsync(LogFile, cancellationToken) : "(no log)";
                throw new InvalidOperationException($"redis-server did not start on port {Port}:\n{log}");
            }
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Takes the server away: it saves its data (as a persistent Redis would have it) and exits.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_process is not { HasExited: false } process) return;
        Resume();
        await CommandAsync("SHUTDOWN SAVE", cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Freezes the server (SIGSTOP): connections stay open and every command waits.</summary>
    public void Pause()
    {
        if (_process is not { HasExited: false } process || _paused) return;
        Signal(process.Id, "STOP");
        _paused = true;
    }

    public void Resume()
    {
        if (_process is not { HasExited: false } process || !_paused) return;
        Signal(process.Id, "CONT");
        _paused = false;
    }

    /// <summary>True when the server answers PING with PONG.</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await CommandAsync("PING", cancellationToken) == "+PONG";
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Sends one inline command and returns the first line of the answer.</summary>
    private async Task<string?> CommandAsync(string command, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        using var client = new TcpClient();
        await client.ConnectAsync(Host, Port, timeout.Token);
        await using var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), timeout.Token);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync(timeout.Token);
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        kill?.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        lock (LiveGate) Live.Remove(this);
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    await process.WaitForExitAsync();
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            process.Dispose();
        }
        DeleteDirectory(_directory);
    }

    /// <summary>Kills and deletes servers left by test processes that died without cleaning up.</summary>
    private static bool SweepOrphans()
    {
        foreach (string directory in Directory.EnumerateDirectories(Path.GetTempPath(), DirectoryPrefix + "*"))
        {
            if (!int.TryParse(ReadOrEmpty(Path.Combine(directory, OwnerFileName)), out int owner) || Directory.Exists($"/proc/{owner}")) continue;
            if (int.TryParse(ReadOrEmpty(Path.Combine(directory, ServerPidFileName)), out int server)
                && File.Exists($"/proc/{server}/cmdline")
                && File.ReadAllText($"/proc/{server}/cmdline").Contains("redis-server", StringComparison.Ordinal))
            {
                Signal(server, "KILL");
            }
            DeleteDirectory(directory);
        }
        return true;
    }

    private static string ReadOrEmpty(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    private static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the orphan sweep of a later run.
        }
    }
}
