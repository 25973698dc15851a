using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;

namespace Qwen.TestSupport;

/// <summary>
/// A service (silo or Api) run as a real child process for a test: started with `dotnet
/// ASSEMBLY args`, its output kept for diagnostics, killed (SIGKILL) or stopped gracefully
/// (SIGTERM) on demand, and always killed when disposed.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private long _linesWritten;
    private long _charsWritten;

    private ServiceProcess(string name, Process process, string url)
    {
        Name = name;
        _process = process;
        Url = url;
    }

    public string Name { get; }
    public string Url { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code once the process has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Every line the process wrote so far (stdout and stderr), and their characters (line ends included).</summary>
    public long LinesWritten => Interlocked.Read(ref _linesWritten);
    public long CharsWritten => Interlocked.Read(ref _charsWritten);

    /// <summary>The last lines the process wrote (stdout and stderr).</summary>
    public string RecentOutput => string.Join('\n', _output);

    public static ServiceProcess Start(string name, string assemblyPath, int port, IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        string url = $"http://127.0.0.1:{port}";
        return StartCommand(name, url, "dotnet", [assemblyPath, $"--urls={url}", .. args], Path.GetDirectoryName(assemblyPath)!, environment);
    }

    /// <summary>
    /// Starts any command as a service reachable at <paramref name="url"/> (e.g. a silo inside a
    /// network namespace through `ip netns exec`, which keeps the process id).
    /// </summary>
    public static ServiceProcess StartCommand(string name, string url, string fileName, IEnumerable<string> arguments,
        string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (string a in arguments) info.ArgumentList.Add(a);
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        if (environment is not null)
        {
            foreach (var (k, v) in environment) info.Environment[k] = v;
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}");
        var service = new ServiceProcess(name, process, url);
        process.OutputDataReceived += (_, e) => service.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => service.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        Interlocked.Add(ref _charsWritten, line.Length + 1);
        Interlocked.Increment(ref _linesWritten);
        _output.Enqueue(line);
        while (_output.Count > 400) _output.TryDequeue(out _);
    }

    /// <summary>Waits until GET <paramref name="path"/> answers 200, or fails with the process's output.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout, string path = "/readyz")
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} before it was ready:\n{RecentOutput}");
            try
            {
                using var response = await http.GetAsync(Url + path);
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException)
            {
                // Not listening yet.
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{Name} was not ready within {timeout}:\n{RecentOutput}");
    }

    /// <summary>Waits for the process to exit on its own; returns its exit code, or fails with its output after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout}:\n{RecentOutput}");
        }
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: the process dies at once, without any shutdown code.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, then waits for the process to finish its graceful shutdown; returns the exit code.</summary>
    public async Task<int> StopGracefullyAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill!.WaitForExitAsync();
        }
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }
}
