using System.Text.Json;
using FluentAssertions;
using Qwen.Cli.Tests.Support;
using Xunit;

namespace Qwen.Cli.Tests;

/// <summary><c>qwen bench-serve</c> on the tiny model, run as the real tool: both configurations measured, nothing failed.</summary>
[Collection(EmbeddedApiCollection.Name)]
public sealed class BenchServeTests(EmbeddedApiFixture fixture) : IDisposable
{
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"qwen-bench-serve-{Guid.NewGuid():N}.json");

    private static readonly string[] RowFields =
        ["mode", "concurrency", "throughput_rps", "tokens_per_s", "p50_ms", "p90_ms", "p99_ms", "ttft_p50_ms", "errors", "peak_rss_mb",
            "engine_decode_tokens_per_s", "efficiency"];

    [Fact]
    public async Task Levels_report_both_configurations_with_every_field_and_no_errors()
    {
        var run = await CommandRun.QwenAsync("bench-serve", "--model", fixture.ModelDirectory, "--levels", "1,2", "--requests", "8",
            "--max-new-tokens", "8", "--json", _json);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain("batched / sequential").And.Contain("peak RSS MB").And.Contain("per task").And.Contain("efficiency");
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_json));
        var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToArray();
        rows.Select(r => (r.GetProperty("mode").GetString(), r.GetProperty("concurrency").GetInt32()))
            .Should().BeEquivalentTo([("sequential", 1), ("batched", 1), ("sequential", 2), ("batched", 2)]);
        foreach (var row in rows)
        {
            foreach (string field in RowFields) row.TryGetProperty(field, out _).Should().BeTrue($"every row has '{field}'");
            row.GetProperty("errors").GetInt32().Should().Be(0);
            row.GetProperty("requests").GetInt32().Should().Be(8);
            (row.GetProperty("sentiment_requests").GetInt32() + row.GetProperty("chat_requests").GetInt32()).Should().Be(8);
            row.GetProperty("chat_requests").GetInt32().Should().BeGreaterThan(0, "the seeded mix has chat requests");
            row.GetProperty("throughput_rps").GetDouble().Should().BePositive();
            row.GetProperty("tokens_per_s").GetDouble().Should().BePositive();
            double p50 = row.GetProperty("p50_ms").GetDouble(), p90 = row.GetProperty("p90_ms").GetDouble(), p99 = row.GetProperty("p99_ms").GetDouble();
            p50.Should().BePositive();
            p90.Should().BeGreaterThanOrEqualTo(p50);
            p99.Should().BeGreaterThanOrEqualTo(p90);
            row.GetProperty("ttft_p50_ms").GetDouble().Should().BePositive().And.BeLessThanOrEqualTo(row.GetProperty("chat_p50_ms").GetDouble());
            row.GetProperty("peak_rss_mb").GetDouble().Should().BeGreaterThan(10);
            // Efficiency is served tokens/s over the engine's own decode rate at a batch of this level's clients.
            double engine = row.GetProperty("engine_decode_tokens_per_s").GetDouble();
            engine.Should().BePositive();
            row.GetProperty("efficiency").GetDouble().Should().BeApproximately(row.GetProperty("tokens_per_s").GetDouble() / engine, 1e-9);
            if (row.GetProperty("mode").GetString() == "batched")
            {
                row.GetProperty("prefill_tokens_per_request").GetDouble().Should().BePositive();
                row.GetProperty("prefill_share").GetDouble().Should().BeInRange(0, 1);
                row.GetProperty("prefill_in_decode_calls").GetDouble().Should().Be(0, "the model has no prompt lanes");
                row.GetProperty("mean_decode_rows").GetDouble().Should().BeInRange(1, row.GetProperty("concurrency").GetInt32());
                // The engine again, at the contexts this level's rows attended over.
                row.GetProperty("mean_decode_context").GetDouble().Should().BeGreaterThan(1);
                double atContext = row.GetProperty("engine_decode_tokens_per_s_at_served_context").GetDouble();
                atContext.Should().BePositive();
                row.GetProperty("efficiency_at_served_context").GetDouble()
                    .Should().BeApproximately(row.GetProperty("tokens_per_s").GetDouble() / atContext, 1e-9);
            }
            // Each task alone: its count matches the row's, its percentiles are ordered, and only chat has a first token.
            var chat = row.GetProperty("by_task").GetProperty("chat");
            chat.GetProperty("requests").GetInt32().Should().Be(row.GetProperty("chat_requests").GetInt32());
            chat.GetProperty("p50_ms").GetDouble().Should().Be(row.GetProperty("chat_p50_ms").GetDouble());
            chat.GetProperty("p99_ms").GetDouble().Should().BeGreaterThanOrEqualTo(chat.GetProperty("p90_ms").GetDouble())
                .And.BeGreaterThanOrEqualTo(chat.GetProperty("p50_ms").GetDouble());
            chat.GetProperty("ttft_p50_ms").GetDouble().Should().Be(row.GetProperty("ttft_p50_ms").GetDouble());
            if (row.GetProperty("by_task").TryGetProperty("sentiment", out var sentiment))
            {
                sentiment.GetProperty("requests").GetInt32().Should().Be(row.GetProperty("sentiment_requests").GetInt32());
                sentiment.GetProperty("p99_ms").GetDouble().Should().BeGreaterThanOrEqualTo(sentiment.GetProperty("p50_ms").GetDouble());
                sentiment.GetProperty("ttft_p50_ms").ValueKind.Should().Be(JsonValueKind.Null, "sentiment streams nothing");
            }
            else
            {
                row.GetProperty("sentiment_requests").GetInt32().Should().Be(0);
            }
        }
        // Greedy replies are the same in both configurations, so both generate the same number of tokens.
        foreach (int level in new[] { 1, 2 })
        {
            var tokens = rows.Where(r => r.GetProperty("concurrency").GetInt32() == level).Select(r => r.GetProperty("generated_tokens").GetInt64()).ToArray();
            tokens.Distinct().Should().ContainSingle($"level {level}: {string.Join(", ", tokens)}");
        }
        // One engine measurement per level, shared by both configurations of the level.
        foreach (int level in new[] { 1, 2 })
        {
            rows.Where(r => r.GetProperty("concurrency").GetInt32() == level).Select(r => r.GetProperty("engine_decode_tokens_per_s").GetDouble())
                .Distinct().Should().ContainSingle();
        }
        json.RootElement.GetProperty("ratios").EnumerateArray().Select(r => r.GetProperty("concurrency").GetInt32()).Should().Equal(1, 2);
    }

    [Fact]
    public async Task Keeping_replies_kv_prefills_less_per_request()
    {
        var run = await CommandRun.QwenAsync("bench-serve", "--model", fixture.ModelDirectory, "--levels", "4", "--requests", "32",
            "--max-new-tokens", "32", "--modes", "batched,batched-reuse", "--json", _json);

        run.ExitCode.Should().Be(0, run.ToString());
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_json));
        var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToDictionary(r => r.GetProperty("mode").GetString()!);
        rows.Keys.Should().BeEquivalentTo("batched", "batched-reuse");
        rows.Values.Should().OnlyContain(r => r.GetProperty("errors").GetInt32() == 0);
        // Conversations run three turns, so later turns find the earlier replies' KV.
        rows["batched-reuse"].GetProperty("prefill_tokens_per_request").GetDouble()
            .Should().BeLessThan(rows["batched"].GetProperty("prefill_tokens_per_request").GetDouble());
    }

    [Fact]
    public async Task The_lean_configuration_serves_with_freed_pages_and_a_small_prefix_cache()
    {
        var run = await CommandRun.QwenAsync("bench-serve", "--model", fixture.ModelDirectory, "--levels", "4", "--requests", "16",
            "--max-new-tokens", "16", "--modes", "batched-lean", "--json", _json);

        run.ExitCode.Should().Be(0, run.ToString());
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_json));
        json.RootElement.GetProperty("configurations").GetProperty("batched-lean").GetString()
            .Should().Contain("PrefixCache=512 tokens").And.Contain("ReturnFreedKvPages=True");
        var row = json.RootElement.GetProperty("rows").EnumerateArray().Single();
        row.GetProperty("mode").GetString().Should().Be("batched-lean");
        row.GetProperty("errors").GetInt32().Should().Be(0);
        row.GetProperty("requests").GetInt32().Should().Be(16);
    }

    [Fact]
    public async Task Soak_reports_rss_after_the_start_and_at_the_end()
    {
        var run = await CommandRun.QwenAsync("bench-serve", "--model", fixture.ModelDirectory, "--soak", "3s", "--soak-concurrency", "2",
            "--max-new-tokens", "8", "--json", _json);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain("RSS at the end");
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_json));
        var root = json.RootElement;
        root.GetProperty("result").GetProperty("mode").GetString().Should().Be("batched");
        root.GetProperty("result").GetProperty("concurrency").GetInt32().Should().Be(2);
        root.GetProperty("result").GetProperty("requests").GetInt32().Should().BePositive();
        root.GetProperty("result").GetProperty("errors").GetInt32().Should().Be(0);
        root.GetProperty("rss_first_minute_mb").GetDouble().Should().BeGreaterThan(10);
        root.GetProperty("rss_end_mb").GetDouble().Should().BeGreaterThan(10);
        root.GetProperty("baseline_at_s").GetDouble().Should().BeInRange(1.4, 3.5);
        root.GetProperty("rss_samples").GetArrayLength().Should().BeGreaterThan(5);
    }

    [Fact]
    public async Task Turn_cost_compares_plain_combined_and_separate_turns_on_the_same_messages()
    {
        var run = await CommandRun.QwenAsync("bench-serve", "--model", fixture.ModelDirectory, "--turn-cost", "--levels", "2", "--requests", "8",
            "--max-new-tokens", "8", "--json", _json);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain("prefill tok/turn").And.Contain("over the plain chat turn");
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_json));
        var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToDictionary(r => r.GetProperty("kind").GetString()!);
        rows.Keys.Should().BeEquivalentTo(["plain", "combined", "separate"]);
        foreach (var row in rows.Values)
        {
            row.GetProperty("turns").GetInt32().Should().Be(8);
            row.GetProperty("errors").GetInt32().Should().Be(0);
            row.GetProperty("prefill_tokens_per_turn").GetDouble().Should().BePositive();
            row.GetProperty("prefill_ms_per_turn").GetDouble().Should().BePositive();
        }
        // The same greedy replies in all three: only the sentiment's cost differs.
        rows.Values.Select(r => r.GetProperty("generated_tokens").GetInt64()).Distinct().Should().ContainSingle();
        rows["plain"].GetProperty("sentiment_p50_ms").ValueKind.Should().Be(JsonValueKind.Null);
        rows["combined"].GetProperty("sentiment_p50_ms").GetDouble().Should().BePositive();
        var ratios = json.RootElement.GetProperty("ratios").EnumerateArray().ToDictionary(r => r.GetProperty("kind").GetString()!);
        double combined = ratios["combined"].GetProperty("prefill_tokens_ratio").GetDouble();
        combined.Should().BeGreaterThan(1, "the cue costs a few positions").And.BeLessThanOrEqualTo(1.15);
        ratios["separate"].GetProperty("prefill_tokens_ratio").GetDouble().Should().BeGreaterThan(combined, "a second prompt costs more than a cue");
    }

    public void Dispose() => File.Delete(_json);
}
