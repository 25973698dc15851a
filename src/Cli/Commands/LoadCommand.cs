using System.CommandLine;
using System.Globalization;
using Qwen.Cli.Load;
using Qwen.Cli.Measurement;
using Qwen.Cli.Serving;
using Qwen.Cli.Workload;
using Spectre.Console;

namespace Qwen.Cli.Commands;

/// <summary>
/// <c>qwen load</c>: an HTTP load tester over the public API — closed-loop virtual users at
/// each concurrency level for a fixed time, the mixed sentiment/chat workload, and per level the
/// latency percentiles, error rate by status, throughput and the server's RSS from /metrics.
/// </summary>
internal static class LoadCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "The Api's base URL, e.g. http://localhost:5000", Required = true };
        var levels = new Option<string>("--levels") { Description = "Concurrent virtual users, one level after another", DefaultValueFactory = _ => "2,8,16,20" };
        var duration = new Option<string>("--duration") { Description = "How long each level runs (e.g. 60s, 5m)", DefaultValueFactory = _ => "60s" };
        var mix = new Option<string>("--mix") { Description = "Task weights", DefaultValueFactory = _ => "sentiment=0.5,chat=0.5" };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file" };
        var seed = new Option<int>("--seed") { Description = "Seed of the request sequence", DefaultValueFactory = _ => 42 };
        var timeout = new Option<string>("--timeout") { Description = "Give up on one request after this long", DefaultValueFactory = _ => "120s" };

        var command = new Command("load", "Load-test a running Api over HTTP: latency percentiles, errors, throughput and server RSS per level.")
        {
            url, levels, duration, mix, json, seed, timeout,
        };
        command.SetAction((parse, ct) => CliApp.Guard(async () =>
        {
            var baseUrl = ParseUrl(parse.GetValue(url)!);
            int[] levelList = LevelList.Parse(parse.GetValue(levels)!, "--levels");
            var perLevel = DurationText.Parse(parse.GetValue(duration)!, "--duration");
            var workload = WorkloadMix.Parse(parse.GetValue(mix)!, "--mix");
            var requestTimeout = DurationText.Parse(parse.GetValue(timeout)!, "--timeout");
            var jsonFile = parse.GetValue(json);
            if (jsonFile?.Directory is { Exists: false } dir) throw new DirectoryNotFoundException($"--json: the directory {dir.FullName} does not exist");

            using var test = new HttpLoadTest(baseUrl, workload, parse.GetValue(seed), requestTimeout);
            await test.CheckServerAsync(TimeSpan.FromSeconds(120), line => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]"), ct);
            var rows = new List<LoadRow>();
            await LiveProgress.RunAsync(async context =>
            {
                foreach (int level in levelList)
                {
                    var live = new LiveCounters();
                    var started = DateTime.UtcNow;
                    var run = test.RunLevelAsync(level, perLevel, live, ct);
                    rows.Add(await LiveProgress.TrackAsync(context, perLevel.TotalSeconds, run, () => (DateTime.UtcNow - started).TotalSeconds,
                        () => Caption(level, live, started)));
                }
            });
            var report = new LoadReport(test.Url, perLevel.TotalSeconds, workload.ToString(), parse.GetValue(seed), test.Memory.Metric, rows);
            Print(report);
            if (jsonFile is not null) await ReportJson.WriteAsync(jsonFile, report, ct);
            return 0;
        }));
        return command;
    }

    private static Uri ParseUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new ArgumentException($"--url: '{text}' is not an http:// or https:// URL");

    private static string Caption(int level, LiveCounters live, DateTime started)
    {
        double seconds = Math.Max((DateTime.UtcNow - started).TotalSeconds, 1e-3);
        return string.Create(CultureInfo.InvariantCulture,
            $"{level,3} users  {live.Completed} requests  {live.Completed / seconds:F1} req/s  errors {live.Errors}");
    }

    private static void Print(LoadReport report)
    {
        var table = new Table()
            .Title(Markup.Escape($"qwen load: {report.Url}, {DurationText.Format(TimeSpan.FromSeconds(report.DurationPerLevelSeconds))} per level, {report.Mix}"))
            .AddColumns("users", "requests", "req/s", "P50 ms", "P90 ms", "P99 ms", "sentiment P50", "chat P50", "error rate", "errors", "server RSS MB");
        foreach (var r in report.Rows)
        {
            string errors = r.Errors == 0 ? "0" : string.Join(", ", r.ErrorsByStatus.OrderByDescending(e => e.Value).Select(e => $"{e.Key}×{e.Value}"));
            string rss = r.ServerRssMb is { } mb ? string.Create(CultureInfo.InvariantCulture, $"{mb:F0} (peak {r.ServerPeakRssMb:F0})") : "n/a";
            table.AddRow(Int(r.Concurrency), Int(r.Requests), F(r.ThroughputRps, "F2"), F(r.P50Ms), F(r.P90Ms), F(r.P99Ms), F(r.SentimentP50Ms), F(r.ChatP50Ms),
                F(r.ErrorRate * 100, "F2") + " %", Markup.Escape(errors), rss);
        }
        AnsiConsole.Write(table);
    }

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string F(double? value, string format = "F0") =>
        value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
}
