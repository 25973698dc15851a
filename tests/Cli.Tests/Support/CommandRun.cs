using System.Diagnostics;

namespace Qwen.Cli.Tests.Support;

/// <summary>A finished child process: exit code and everything it printed.</summary>
public sealed record CommandResult(int ExitCode, string Output, string Errors)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Errors}";
}

/// <summary>Runs the real <c>qwen</c> tool (or another program) as a child process and collects its output; kills it on timeout.</summary>
public static class CommandRun
{
    public static Task<CommandResult> QwenAsync(params string[] args) =>
        RunAsync("dotnet", [Qwen.TestSupport.RepositoryPaths.BuiltAssembly("Cli", "qwen.dll"), .. args], TimeSpan.FromMinutes(5));

    public static async Task<CommandResult> RunAsync(string fileName, IEnumerable<string> args, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Qwen.TestSupport.RepositoryPaths.Root,
        };
        foreach (string a in args) info.ArgumentList.Add(a);
        if (environment is not null)
        {
            foreach (var (k, v) in environment) info.Environment[k] = v;
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"{fileName} {string.Join(' ', info.ArgumentList)} did not finish within {timeout}:\n{await output}\n{await errors}");
        }
        return new CommandResult(process.ExitCode, await output, await errors);
    }
}
