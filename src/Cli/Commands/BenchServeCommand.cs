using System.CommandLine;
using System.Globalization;
using Qwen.Cli.Measurement;
using Qwen.Cli.Serving;
using Qwen.Cli.Workload;
using Qwen.Grains;
using Qwen.Inference.Engine;
using Spectre.Console;

namespace Qwen.Cli.Commands;

/// <summary>
/// <c>qwen bench-serve</c>: one silo's inference worker driven in-process by closed-loop
/// clients with the mixed sentiment/chat workload, sequential baseline against batched, per
/// concurrency level; or, with <c>--soak</c>, a long batched run that watches memory; or, with <c>--turn-cost</c>, the
/// cost of a combined sentiment + reply turn against a plain chat turn and against two separate requests.
/// </summary>
internal static class BenchServeCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model directory", Required = true };
        var levels = new Option<string>("--levels") { Description = "Concurrency levels (closed-loop clients)", DefaultValueFactory = _ => "1,2,8,16,20" };
        var requests = new Option<int>("--requests") { Description = "Requests per level and configuration", DefaultValueFactory = _ => 128 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file" };
        var soak = new Option<string?>("--soak") { Description = "Instead of the levels: keep the batched load for this long (e.g. 10m) and watch RSS" };
        var soakConcurrency = new Option<int>("--soak-concurrency") { Description = "Clients during --soak", DefaultValueFactory = _ => 16 };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Longest chat reply", DefaultValueFactory = _ => 64 };
        var mix = new Option<string>("--mix") { Description = "Task weights", DefaultValueFactory = _ => "sentiment=0.5,chat=0.5" };
        var seed = new Option<int>("--seed") { Description = "Seed of the request sequence", DefaultValueFactory = _ => 42 };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads of the model session (0 = one per core)" };
        var modes = new Option<string>("--modes")
        {
            Description = $"Configurations to measure: {string.Join(", ", ServeModes.All)}",
            DefaultValueFactory = _ => string.Join(',', ServeModes.Default),
        };
        var turnCost = new Option<bool>("--turn-cost")
        {
            Description = "Instead of the mixed load: per level, plain chat turns vs combined (sentiment + reply) turns "
                + "vs chat turns plus separate sentiment requests",
        };

        var command = new Command("bench-serve", "Benchmark one silo's inference worker under mixed load: sequential baseline vs batched.")
        {
            model, levels, requests, json, soak, soakConcurrency, maxNewTokens, mix, seed, threads, modes, turnCost,
        };
        command.SetAction((parse, ct) => CliApp.Guard(async () =>
        {
            var settings = new Settings(
                parse.GetValue(model)!.FullName,
                LevelList.Parse(parse.GetValue(levels)!, "--levels"),
                Positive(parse.GetValue(requests), "--requests"),
                parse.GetValue(soak) is { } s ? DurationText.Parse(s, "--soak") : null,
                Positive(parse.GetValue(soakConcurrency), "--soak-concurrency"),
                InRange(parse.GetValue(maxNewTokens), 1, new InferenceWorkerOptions().MaxNewTokensLimit, "--max-new-tokens"),
                WorkloadMix.Parse(parse.GetValue(mix)!, "--mix"),
                parse.GetValue(seed),
                parse.GetValue(threads) >= 0 ? parse.GetValue(threads) : throw new ArgumentException("--threads must be 0 or more"),
                ServeModes.Parse(parse.GetValue(modes)!, "--modes"));
            var jsonFile = parse.GetValue(json);
            if (jsonFile?.Directory is { Exists: false } dir) throw new DirectoryNotFoundException($"--json: the directory {dir.FullName} does not exist");
            if (!Directory.Exists(settings.ModelPath)) throw new DirectoryNotFoundException($"--model: the directory {settings.ModelPath} does not exist");

            AnsiConsole.MarkupLine($"[grey]loading {Markup.Escape(settings.ModelPath)} ...[/]");
            using var loaded = LoadedModel.Open(settings.ModelPath, new DecoderSessionOptions { IntraOpThreads = settings.Threads });
            var bench = new ServeBenchmark(loaded, settings.MaxNewTokens);
            if (parse.GetValue(turnCost))
            {
                if (settings.Soak is not null) throw new ArgumentException("--turn-cost and --soak are two different runs: give one of them");
                var report = await TurnCostAsync(new TurnCostBenchmark(bench, settings.MaxNewTokens), settings, ct);
                PrintTurnCost(report);
                if (jsonFile is not null) await ReportJson.WriteAsync(jsonFile, report, ct);
            }
            else if (settings.Soak is { } duration)
            {
                var report = await SoakAsync(bench, settings, duration, ct);
                PrintSoak(report);
                if (jsonFile is not null) await ReportJson.WriteAsync(jsonFile, report, ct);
            }
            else
            {
                var report = await LevelsAsync(bench, settings, ct);
                PrintLevels(report);
                if (jsonFile is not null) await ReportJson.WriteAsync(jsonFile, report, ct);
            }
            return 0;
        }));
        return command;
    }

    private sealed record Settings(string ModelPath, int[] Levels, int Requests, TimeSpan? Soak, int SoakConcurrency, int MaxNewTokens,
        WorkloadMix Mix, int Seed, int Threads, IReadOnlyList<string> Modes);

    private static async Task<ServeReport> LevelsAsync(ServeBenchmark bench, Settings s, CancellationToken ct)
    {
        var requests = WorkloadRequest.Sequence(s.Requests, s.Seed, s.Mix);
        var rows = new List<ServeRow>();
        await LiveProgress.RunAsync(async context =>
        {
            // Level by level, both configurations next to each other, so a ratio compares runs close in time.
            foreach (int level in s.Levels)
            {
                var levelRows = new List<ServeRow>();
                foreach (string mode in s.Modes)
                {
                    var live = new LiveCounters();
                    var started = DateTime.UtcNow;
                    var phase = bench.RunPhaseAsync(mode, level, requests, live, ct);
                    levelRows.Add(await LiveProgress.TrackAsync(context, s.Requests, phase, () => live.Completed,
                        () => Caption($"{mode,-10} c={level,-3}", live, started, $"{live.Completed}/{s.Requests}")));
                }
                // The engine alone at a batch of this many rows, right after the level, on the same session.
                double rate = await LiveProgress.TrackAsync(context, 1, Task.Run(() => bench.EngineDecodeTokensPerSecond(level, ct), ct), () => 0,
                    () => $"{"engine",-10} c={level,-3}  decode batch {level}");
                foreach (var row in levelRows)
                {
                    double? atContext = null;
                    if (row.MeanDecodeContext is { } served)
                    {
                        // The same, each row attending over as many positions as this configuration's rows did on average.
                        int positions = (int)Math.Round(served);
                        atContext = await LiveProgress.TrackAsync(context, 1, Task.Run(() => bench.EngineDecodeTokensPerSecond(level, positions, ct), ct),
                            () => 0, () => $"{"engine",-10} c={level,-3}  decode batch {level} at {positions} cached ({row.Mode})");
                    }
                    rows.Add(row with { EngineDecodeTokensPerSecond = rate, EngineDecodeTokensPerSecondAtServedContext = atContext });
                }
            }
        });
        var configurations = s.Modes.ToDictionary(m => m, ServeModes.Describe, StringComparer.Ordinal);
        return new ServeReport(Path.GetFileName(s.ModelPath.TrimEnd('/')), s.Threads > 0 ? s.Threads : Environment.ProcessorCount, s.Requests,
            s.MaxNewTokens, s.Seed, s.Mix.ToString(), configurations, rows, ServeRatio.Of(rows));
    }

    private static async Task<TurnCostReport> TurnCostAsync(TurnCostBenchmark bench, Settings s, CancellationToken ct)
    {
        // The chat messages of the mixed workload: the same texts, in the same order, for every kind of turn.
        var texts = WorkloadRequest.Sequence(s.Requests, s.Seed, WorkloadMix.Parse("chat=1", "--mix")).Select(r => r.Text).ToArray();
        var rows = new List<TurnCostRow>();
        await LiveProgress.RunAsync(async context =>
        {
            foreach (int level in s.Levels)
            {
                foreach (string kind in TurnKinds.All)
                {
                    var live = new LiveCounters();
                    var started = DateTime.UtcNow;
                    var phase = bench.RunPhaseAsync(kind, level, texts, live, ct);
                    rows.Add(await LiveProgress.TrackAsync(context, s.Requests, phase, () => live.Completed,
                        () => Caption($"{kind,-9} c={level,-3}", live, started, $"{live.Completed}/{s.Requests}")));
                }
            }
        });
        return new TurnCostReport(Path.GetFileName(s.ModelPath.TrimEnd('/')), s.Threads > 0 ? s.Threads : Environment.ProcessorCount, s.Requests,
            s.MaxNewTokens, s.Seed, ServeModes.Describe(ServeModes.Batched), rows, TurnCostRatio.Of(rows));
    }

    private static void PrintTurnCost(TurnCostReport report)
    {
        var table = new Table()
            .Title(Markup.Escape($"bench-serve --turn-cost: {report.Model}, {report.TurnsPerLevel} turns per kind and level, "
                + $"replies ≤ {report.MaxNewTokens} tokens"))
            .AddColumns("kind", "clients", "turns/s", "prefill tok/turn", "prefill ms/turn", "P50 ms", "sentiment P50", "TTFT P50", "errors");
        foreach (var r in report.Rows)
        {
            table.AddRow(r.Kind, Int(r.Concurrency), F(r.TurnsPerSecond, "F2"), F(r.PrefillTokensPerTurn, "F1"), F(r.PrefillMsPerTurn, "F1"),
                F(r.P50Ms), F(r.SentimentP50Ms), F(r.TtftP50Ms), Int(r.Errors));
        }
        AnsiConsole.Write(table);
        var ratios = new Table().Title(Markup.Escape($"over the plain chat turn (combined: goal ≤ {TurnCostRatio.CombinedGoal:F2})"))
            .AddColumns("kind", "clients", "prefill tokens ×", "prefill time ×", "P50 ×");
        foreach (var r in report.Ratios)
            ratios.AddRow(r.Kind, Int(r.Concurrency), F(r.PrefillTokensRatio, "F3"), F(r.PrefillTimeRatio, "F3"), F(r.P50Ratio, "F2"));
        AnsiConsole.Write(ratios);
    }

    private static async Task<SoakReport> SoakAsync(ServeBenchmark bench, Settings s, TimeSpan duration, CancellationToken ct)
    {
        SoakReport? report = null;
        await LiveProgress.RunAsync(async context =>
        {
            var live = new LiveCounters();
            var started = DateTime.UtcNow;
            var soak = bench.SoakAsync(ServeModes.Batched, s.SoakConcurrency, duration, s.Seed, s.Mix, live, ct);
            report = await LiveProgress.TrackAsync(context, duration.TotalSeconds, soak, () => (DateTime.UtcNow - started).TotalSeconds,
                () => Caption($"soak {ServeModes.Batched} c={s.SoakConcurrency}", live, started,
                    string.Create(CultureInfo.InvariantCulture, $"RSS {ProcessMemory.CurrentRssMegabytes():F0} MB")));
        });
        return report!;
    }

    private static string Caption(string phase, LiveCounters live, DateTime started, string extra)
    {
        double seconds = Math.Max((DateTime.UtcNow - started).TotalSeconds, 1e-3);
        return string.Create(CultureInfo.InvariantCulture,
            $"{phase} {extra}  {live.Completed / seconds:F1} req/s  {live.GeneratedTokens / seconds:F0} tok/s  errors {live.Errors}");
    }

    private static void PrintLevels(ServeReport report)
    {
        var table = new Table().Title(Markup.Escape($"bench-serve: {report.Model}, {report.RequestsPerLevel} requests per level, {report.Mix}, replies ≤ {report.MaxNewTokens} tokens"))
            .AddColumns("mode", "clients", "req/s", "tok/s", "engine tok/s", "efficiency", "P50 ms", "P90 ms", "P99 ms", "TTFT P50", "sentiment P50",
                "chat P50", "errors", "peak RSS MB");
        foreach (var r in report.Rows)
        {
            table.AddRow(r.Mode, Int(r.Concurrency), F(r.ThroughputRps, "F2"), F(r.TokensPerSecond, "F1"), F(r.EngineDecodeTokensPerSecond, "F1"),
                F(r.Efficiency, "F2"), F(r.P50Ms), F(r.P90Ms), F(r.P99Ms), F(r.TtftP50Ms), F(r.SentimentP50Ms), F(r.ChatP50Ms), Errors(r), F(r.PeakRssMb));
        }
        AnsiConsole.Write(table);
        var engine = new Table().Title("the engine's steps (batched: where its time went)")
            .AddColumns("mode", "clients", "engine decode tok/s", "efficiency", "mean decode rows", "mean context", "engine tok/s at it",
                "efficiency at it", "decode ms/step", "prefill tok/request", "prefill share of step time", "prefill in decode calls");
        foreach (var r in report.Rows.Where(r => r.PrefillShare is not null))
        {
            engine.AddRow(r.Mode, Int(r.Concurrency), F(r.EngineDecodeTokensPerSecond, "F1"), F(r.Efficiency, "F2"), F(r.MeanDecodeRows, "F1"),
                F(r.MeanDecodeContext, "F0"), F(r.EngineDecodeTokensPerSecondAtServedContext, "F1"), F(r.EfficiencyAtServedContext, "F2"),
                F(r.DecodeMsPerStep, "F1"), F(r.PrefillTokensPerRequest, "F1"), F(r.PrefillShare * 100, "F0") + " %",
                F(r.PrefillInDecodeCalls * 100, "F0") + " %");
        }
        AnsiConsole.Write(engine);
        var byTask = new Table().Title("per task").AddColumns("mode", "clients", "task", "requests", "P50 ms", "P90 ms", "P99 ms", "TTFT P50");
        foreach (var r in report.Rows)
        {
            foreach (var (task, t) in r.ByTask)
            {
                byTask.AddRow(r.Mode, Int(r.Concurrency), task, Int(t.Requests), F(t.P50Ms), F(t.P90Ms), F(t.P99Ms), F(t.TtftP50Ms));
            }
        }
        AnsiConsole.Write(byTask);
        if (report.Ratios.Count == 0) return;
        var ratios = new Table().Title("batched / sequential").AddColumns("clients", "req/s ×", "tok/s ×", "P50 ×", "P99 ×", "TTFT P50 ×");
        foreach (var r in report.Ratios)
        {
            ratios.AddRow(Int(r.Concurrency), F(r.ThroughputRatio, "F2"), F(r.TokensPerSecondRatio, "F2"), F(r.P50Ratio, "F2"), F(r.P99Ratio, "F2"),
                F(r.TtftP50Ratio, "F2"));
        }
        AnsiConsole.Write(ratios);
    }

    private static void PrintSoak(SoakReport report)
    {
        var r = report.Result;
        var table = new Table().Title(Markup.Escape($"soak: {r.Mode}, {r.Concurrency} clients, {DurationText.Format(TimeSpan.FromSeconds(report.DurationSeconds))}"))
            .AddColumns("measure", "value");
        table.AddRow("requests", $"{Int(r.Requests)} ({Errors(r)} errors)");
        table.AddRow("throughput", $"{F(r.ThroughputRps, "F2")} req/s, {F(r.TokensPerSecond, "F1")} generated tokens/s");
        table.AddRow("latency", $"P50 {F(r.P50Ms)} ms, P90 {F(r.P90Ms)} ms, P99 {F(r.P99Ms)} ms");
        table.AddRow($"RSS at {F(report.BaselineAtSeconds)} s", $"{F(report.RssFirstMinuteMb)} MB");
        table.AddRow("RSS at the end", $"{F(report.RssEndMb)} MB ({F(report.RssChangePercent, "+0.0;-0.0")} %)");
        table.AddRow("peak RSS", $"{F(r.PeakRssMb)} MB");
        AnsiConsole.Write(table);
    }

    private static string Errors(ServeRow r) => r.Errors == 0 ? "0"
        : Markup.Escape($"{r.Errors} ({string.Join(", ", r.ErrorsByKind.Select(e => $"{e.Key}×{e.Value}"))})");

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string F(double? value, string format = "F0") =>
        value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";

    private static int Positive(int value, string option) => value >= 1 ? value : throw new ArgumentException($"{option} must be at least 1 but was {value}");

    private static int InRange(int value, int min, int max, string option) =>
        value >= min && value <= max ? value : throw new ArgumentException($"{option} must be in [{min}, {max}] but was {value}");
}
