using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Qwen.Cli.Measurement;
using Qwen.Inference.Engine;
using Spectre.Console;

namespace Qwen.Cli.Commands;

/// <summary>
/// <c>qwen bench-engine</c>: load time, prefill and decode throughput, peak RSS and the
/// weight bandwidth a decode step achieves (model bytes ÷ step time).
/// </summary>
internal static class BenchEngineCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model directory", Required = true };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file" };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0 = one per core)" };
        var steps = new Option<int>("--decode-steps") { Description = "Timed decode steps per batch size", DefaultValueFactory = _ => 32 };
        var batches = new Option<string>("--batches") { Description = "Decode batch sizes", DefaultValueFactory = _ => "1,4,16" };
        var prompts = new Option<string>("--prompt-lengths") { Description = "Prefill prompt lengths", DefaultValueFactory = _ => "32,256" };
        var context = new Option<int>("--decode-context")
        {
            Description = "Positions each decode row has cached before the timed steps (attention reads them all every step)",
            DefaultValueFactory = _ => EngineBenchmark.DecodePromptTokens,
        };
        var noArena = new Option<bool>("--no-arena") { Description = "Disable ONNX Runtime's CPU memory arena" };
        var noMemoryPattern = new Option<bool>("--no-memory-pattern") { Description = "Disable ONNX Runtime's memory pattern planning" };
        var sessionConfig = new Option<string[]>("--session-config") { Description = "ONNX Runtime session config entry KEY=VALUE (repeatable)" };

        var profile = new Option<string?>("--profile")
        {
            Description = "Record ONNX Runtime's per-operator times to PREFIX_<time>.json (Chrome trace, e.g. for chrome://tracing)",
        };

        var flushDenormals = new Option<bool>("--flush-denormals") { Description = "Treat denormal floats as zero, each step run on a flushing thread (off by default)" };

        var command = new Command("bench-engine", "Benchmark the engine on one model: load, prefill, decode, memory, bandwidth.")
        {
            model, json, threads, steps, batches, prompts, context, noArena, noMemoryPattern, sessionConfig, profile, flushDenormals,
        };
        command.SetAction((parse, ct) => CliApp.Guard(() =>
        {
            var settings = new EngineBenchmark.Settings(
                parse.GetValue(model)!.FullName,
                parse.GetValue(threads),
                parse.GetValue(steps),
                CliApp.ParseIds(parse.GetValue(batches)!, "--batches"),
                CliApp.ParseIds(parse.GetValue(prompts)!, "--prompt-lengths"),
                !parse.GetValue(noArena),
                !parse.GetValue(noMemoryPattern),
                ParseConfig(parse.GetValue(sessionConfig) ?? []),
                parse.GetValue(profile),
                parse.GetValue(flushDenormals),
                parse.GetValue(context) >= 2 ? parse.GetValue(context) : throw new ArgumentException("--decode-context must be at least 2"));
            var report = EngineBenchmark.Run(settings, line => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]"), ct);
            Print(report);
            if (parse.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                Console.WriteLine($"Wrote {file.FullName}");
            }
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Dictionary<string, string> ParseConfig(string[] entries) => entries.Select(e =>
    {
        int eq = e.IndexOf('=', StringComparison.Ordinal);
        return eq > 0 ? (e[..eq], e[(eq + 1)..]) : throw new ArgumentException($"--session-config: '{e}' is not KEY=VALUE");
    }).ToDictionary(p => p.Item1, p => p.Item2);

    private static void Print(EngineBenchmark.Report r)
    {
        var table = new Table().AddColumns("measure", "value");
        table.AddRow("model", Markup.Escape($"{r.Model} ({r.WeightBytes / 1e6:F0} MB weights, {r.Threads} threads)"));
        table.AddRow("load time", $"{r.LoadSeconds:F2} s (RSS after load {r.LoadedRssMegabytes:F0} MB)");
        foreach (var p in r.Prefill) table.AddRow($"prefill {p.PromptTokens} tokens", $"{p.TokensPerSecond:F1} tokens/s ({p.Milliseconds:F1} ms)");
        foreach (var d in r.Decode)
        {
            table.AddRow($"decode batch {d.Batch}" + (r.DecodeContext == EngineBenchmark.DecodePromptTokens ? "" : $" at {r.DecodeContext} cached"),
                $"{d.TokensPerSecond:F1} tokens/s ({d.StepMilliseconds:F2} ms/step, {d.WeightGigabytesPerSecond:F1} GB/s of weights)");
        }
        table.AddRow("peak RSS", $"{r.PeakRssMegabytes:F0} MB");
        AnsiConsole.Write(table);
    }
}
