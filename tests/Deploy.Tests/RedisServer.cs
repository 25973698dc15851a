using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Qwen.Deploy.Tests;

/// <summary>
/// A private redis-server on loopback, started from deploy/redis/qwen.conf with the address, port,
/// data directory and password overridden for the test; killed and its directory deleted on dispose.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private RedisServer(Process process, string directory, int port, string password)
    {
        _process = process;
        _directory = directory;
        Port = port;
        Password = password;
    }

    public int Port { get; }
    public string Password { get; }

    /// <summary>The StackExchange.Redis configuration the silos and the Api are given (Cluster__Redis).</summary>
    public string Configuration => $"127.0.0.1:{Port},password={Password}";

    public static async Task<RedisServer> StartAsync(string password)
    {
        string directory = Directory.CreateTempSubdirectory("qwen-redis-").FullName;
        int port = Qwen.TestSupport.FreePort.Next();
        var start = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
        {
            DeployPaths.Deploy("redis", "qwen.conf"), "--bind", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--dir", directory, "--requirepass", password, "--daemonize", "no",
        })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start redis-server");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, directory, port, password);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"redis-server exited with code {process.ExitCode} (deploy/redis/qwen.conf refused?)");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                if ((await server.CliAsync("PING")).Stdout.Trim() == "PONG") return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("redis-server did not answer PING within 30 s");
            await Task.Delay(100);
        }
    }

    /// <summary>Runs redis-cli against this server; the password goes through REDISCLI_AUTH, not the command line.</summary>
    public Task<ScriptRun> CliAsync(params string[] command) =>
        ScriptRun.RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--raw", .. command],
            new Dictionary<string, string?> { ["REDISCLI_AUTH"] = Password });

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
