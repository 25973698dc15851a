using Xunit;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// The runner's re-layouts on the tiny model: a row computes the logits it computes alone,
/// however it was prefilled (whole or in chunks) and whichever rows share its grid.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class ModelRunnerTests(TinyModels models)
{
    private const float Tolerance = 1e-4f;

    [Theory]
    [InlineData("fp32")]
    [InlineData("fp16-kv")]
    [InlineData("no-position-ids")]
    public void A_chunked_prefill_ends_with_the_logits_of_a_whole_prefill(string variant)
    {
        var runner = new ModelRunner(models.Session(variant));
        int[][] prompts = [RandomIds(1, 23), RandomIds(2, 9)];

        float[][] whole = PrefillLast(runner, prompts, maxTokens: 1000, out int wholeSteps);
        float[][] chunked = PrefillLast(runner, prompts, maxTokens: 10, out int chunkedSteps);

        wholeSteps.Should().Be(1);
        chunkedSteps.Should().Be(5, "23 columns in chunks of 10 / 2 rows");
        // A chunk reads earlier chunks' keys and values as stored: rounded when the cache is float16.
        float tolerance = variant == "fp16-kv" ? 5e-3f : Tolerance;
        for (int r = 0; r < prompts.Length; r++) MaxAbsDiff(chunked[r], whole[r]).Should().BeLessThan(tolerance);
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("fp16-kv")]
    public void Rows_merged_into_and_removed_from_a_grid_decode_as_they_would_alone(string variant)
    {
        var runner = new ModelRunner(models.Session(variant));
        int[][] prompts = [RandomIds(3, 3), RandomIds(4, 17), RandomIds(5, 6)];
        var alone = prompts.Select(p => new SoloSequence(runner, p)).ToArray();

        using var first = runner.StartPrefill([prompts[0], prompts[1]]);
        using (var logits = runner.Prefill(first, 1000, default)) ExpectRows(logits, alone[0], alone[1]);
        var grid = first.Grid;
        for (int step = 0; step < 2; step++) DecodeAndCompare(runner, grid, alone[0], alone[1]);

        using var second = runner.StartPrefill([prompts[2]]);
        using (var logits = runner.Prefill(second, 1000, default)) ExpectRows(logits, alone[2]);
        using var merged = runner.Compose([new(grid, 0), new(grid, 1), new(second.Grid, 0)]);
        merged.Length.Should().Be(19, "the longest row holds 17 prompt tokens and 2 decoded ones");
        for (int step = 0; step < 3; step++) DecodeAndCompare(runner, merged, alone[0], alone[1], alone[2]);

        using var shrunk = runner.Compose([new(merged, 0), new(merged, 2)]);
        shrunk.Length.Should().Be(9, "padding every remaining row shares is dropped: 6 prompt tokens and 3 decoded ones");
        shrunk.RealLengths.Should().Equal(8, 9);
        for (int step = 0; step < 3; step++) DecodeAndCompare(runner, shrunk, alone[0], alone[2]);
        foreach (var solo in alone) solo.Dispose();
    }

    [Fact]
    public void Label_continuations_equal_the_log_probabilities_of_the_label_scorer()
    {
        var session = models.Session("fp32");
        var runner = new ModelRunner(session);
        int[][] prompts = [RandomIds(6, 8), RandomIds(7, 3)];
        IReadOnlyList<int>[] labels = [[10, 11], [12], [13, 14, 15]];
        var expected = prompts.Select(p => new LabelScorer(session).Score(p, labels)).ToArray();

        using var run = runner.StartPrefill(prompts);
        double[,] firsts = new double[2, 3];
        using (var logits = runner.Prefill(run, 1000, default))
        {
            for (int r = 0; r < 2; r++)
            {
                for (int k = 0; k < 3; k++) firsts[r, k] = logits.Last(r)[labels[k][0]] - LogSumExp(logits.Last(r));
            }
        }
        double[] rest = runner.ScoreContinuations(
            [new(run.Grid, 0), new(run.Grid, 0), new(run.Grid, 1), new(run.Grid, 1)], [labels[0], labels[2], labels[0], labels[2]], default);

        (firsts[0, 0] + rest[0]).Should().BeApproximately(expected[0][0].LogProbability, 1e-4);
        (firsts[0, 2] + rest[1]).Should().BeApproximately(expected[0][2].LogProbability, 1e-4);
        (firsts[1, 0] + rest[2]).Should().BeApproximately(expected[1][0].LogProbability, 1e-4);
        (firsts[1, 2] + rest[3]).Should().BeApproximately(expected[1][2].LogProbability, 1e-4);
        firsts[1, 1].Should().BeApproximately(expected[1][1].LogProbability, 1e-4);
    }

    private static float[][] PrefillLast(ModelRunner runner, int[][] prompts, int maxTokens, out int steps)
    {
        using var run = runner.StartPrefill(prompts);
        steps = 0;
        float[][] last = [];
        while (!run.IsComplete)
        {
            using var logits = runner.Prefill(run, maxTokens, default);
            steps++;
            last = Enumerable.Range(0, prompts.Length).Select(r => logits.Last(r).ToArray()).ToArray();
        }
        run.Grid.RealLengths.Should().Equal(prompts.Select(p => p.Length));
        return last;
    }

    private static void ExpectRows(StepLogits logits, params SoloSequence[] solos)
    {
        for (int r = 0; r < solos.Length; r++) MaxAbsDiff(logits.Last(r), solos[r].Logits).Should().BeLessThan(Tolerance, $"row {r}");
    }

    /// <summary>Feeds each row its solo sequence's greedy token, steps both, and compares.</summary>
    private static void DecodeAndCompare(ModelRunner runner, KvGrid grid, params SoloSequence[] solos)
    {
        int[] tokens = solos.Select(s => ArgMax(s.Logits)).ToArray();
        foreach (var solo in solos) solo.Decode();
        using var logits = runner.Decode(grid, tokens, default);
        ExpectRows(logits, solos);
    }

    /// <summary>A sequence run alone (batch of one), its greedy continuation, and its latest logits.</summary>
    private sealed class SoloSequence : IDisposable
    {
        private readonly ModelRunner _runner;
        private readonly PrefillRun _run;

        public SoloSequence(ModelRunner runner, int[] prompt)
        {
            _runner = runner;
            _run = runner.StartPrefill([prompt]);
            using var logits = runner.Prefill(_run, int.MaxValue, default);
            Logits = logits.Last(0).ToArray();
        }

        public float[] Logits { get; private set; }

        public void Decode()
        {
            using var logits = _runner.Decode(_run.Grid, [ArgMax(Logits)], default);
            Logits = logits.Last(0).ToArray();
        }

        public void Dispose() => _run.Dispose();
    }
}
