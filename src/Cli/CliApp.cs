using System.CommandLine;
using Microsoft.ML.OnnxRuntime;
using Qwen.Cli.Commands;
using Qwen.Inference;

namespace Qwen.Cli;

/// <summary>The <c>qwen</c> command line: every job that is not the server.</summary>
public static class CliApp
{
    /// <summary>Exit code for bad input (options, files, ids).</summary>
    public const int UsageError = 2;

    public static RootCommand Create()
    {
        var root = new RootCommand("Qwen All-in-One: build models, generate, classify sentiment, tokenize, benchmark.");
        root.Subcommands.Add(BuildModelCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(BenchEngineCommand.Create());
        root.Subcommands.Add(SentimentCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(DetokenizeCommand.Create());
        root.Subcommands.Add(BenchTokenizerCommand.Create());
        root.Subcommands.Add(BenchServeCommand.Create());
        root.Subcommands.Add(LoadCommand.Create());
        root.Subcommands.Add(DbCommand.Create());
        root.Subcommands.Add(KeysCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var parsed = Create().Parse(args);
        if (parsed.Errors.Count == 0) return await parsed.InvokeAsync(cancellationToken: cancellationToken);
        // Unknown or missing options are bad input like any other: one error line each, exit code 2.
        foreach (var error in parsed.Errors) await Console.Error.WriteLineAsync($"error: {error.Message}");
        string command = parsed.CommandResult.Command is RootCommand ? "qwen" : $"qwen {parsed.CommandResult.Command.Name}";
        await Console.Error.WriteLineAsync($"(see '{command} --help')");
        return UsageError;
    }

    /// <summary>Runs a command body, turning the errors users can cause into one clear line and exit code 2.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (e is InvalidModelException or ArgumentException or FileNotFoundException
                                      or DirectoryNotFoundException or FormatException or OnnxRuntimeException or PlatformNotSupportedException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return UsageError;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("cancelled");
            return 130;
        }
    }

    /// <summary>Parses "1,2,3" into ids.</summary>
    public static int[] ParseIds(string text, string optionName)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out ids[i]))
                throw new FormatException($"{optionName}: '{parts[i]}' is not an integer token id");
        }
        return ids;
    }
}
