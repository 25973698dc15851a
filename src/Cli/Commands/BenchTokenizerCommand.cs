using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Qwen.Cli.Commands;

/// <summary>
/// <c>qwen bench-tokenizer</c>: single-threaded encode throughput (MB/s of UTF-8 input) on a
/// mixed corpus, first with an empty word cache, then warm.
/// </summary>
internal static class BenchTokenizerCommand
{
    public sealed record Report(double Megabytes, long Tokens, double ColdMegabytesPerSecond, double WarmMegabytesPerSecond, double WarmTokensPerSecond, double LoadSeconds);

    public static Command Create()
    {
        var tokenizer = TokenizerOption.Create();
        var megabytes = new Option<double>("--megabytes") { Description = "Size of the generated mixed corpus", DefaultValueFactory = _ => 8 };
        var rounds = new Option<int>("--rounds") { Description = "Warm rounds (the best is reported)", DefaultValueFactory = _ => 3 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file" };
        var command = new Command("bench-tokenizer", "Measure single-threaded tokenizer encode throughput in MB/s on a mixed corpus.")
        {
            tokenizer, megabytes, rounds, json,
        };
        command.SetAction((parse, ct) => CliApp.Guard(() =>
        {
            if (parse.GetValue(megabytes) <= 0 || parse.GetValue(rounds) < 1) throw new ArgumentException("--megabytes must be positive and --rounds at least 1");
            var load = Stopwatch.StartNew();
            var bpe = TokenizerOption.Load(parse.GetValue(tokenizer));
            double loadSeconds = load.Elapsed.TotalSeconds;
            var corpus = MixedCorpus.Create(parse.GetValue(megabytes));
            double mb = corpus.Sum(p => (long)Encoding.UTF8.GetByteCount(p)) / 1e6;

            long tokens = 0;
            var ids = new List<int>(1 << 16);
            double Round()
            {
                var watch = Stopwatch.StartNew();
                long count = 0;
                foreach (string paragraph in corpus)
                {
                    ct.ThrowIfCancellationRequested();
                    ids.Clear();
                    bpe.Encode(paragraph, ids);
                    count += ids.Count;
                }
                tokens = count;
                return watch.Elapsed.TotalSeconds;
            }
            double cold = Round();
            double warm = Enumerable.Range(0, parse.GetValue(rounds)).Min(_ => Round());
            var report = new Report(mb, tokens, mb / cold, mb / warm, tokens / warm, loadSeconds);

            var table = new Table().AddColumns("measure", "value");
            table.AddRow("corpus", $"{mb:F1} MB mixed text, {tokens:N0} tokens ({mb * 1e6 / tokens:F2} bytes/token)");
            table.AddRow("load tokenizer.json", $"{loadSeconds:F2} s");
            table.AddRow("encode, cold cache", $"{report.ColdMegabytesPerSecond:F1} MB/s");
            table.AddRow("encode, warm cache", $"{report.WarmMegabytesPerSecond:F1} MB/s ({report.WarmTokensPerSecond / 1e6:F2} M tokens/s), single thread");
            AnsiConsole.Write(table);
            if (parse.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                Console.WriteLine($"Wrote {file.FullName}");
            }
            return Task.FromResult(0);
        }));
        return command;
    }
}
