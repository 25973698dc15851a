using FluentAssertions;
using Qwen.Inference.Engine;
using Xunit;

namespace Qwen.Inference.Tests.Engine;

/// <summary>
/// <see cref="PromptChunking"/>: the cuts it chooses are all exact and cover the prompt, and on
/// the tiny models a prompt cut anywhere it allows, with a probe's cue in its last chunk, gives the
/// last position's logits bit for bit as the same prompt computed two tokens at a time.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class PromptChunkingTests(TinyModels models)
{
    private static readonly int[] Cue = [104934, 104317, 5122];

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Every_cut_is_exact_and_the_chunks_cover_the_prompt(int trailing)
    {
        for (int tokens = 1; tokens <= 200; tokens++)
        {
            for (int budget = 0; budget <= 100; budget++)
            {
                var widths = PromptChunking.Widths(tokens, budget, trailing);
                string because = $"{tokens} tokens, budget {budget}, trailing {trailing}: [{string.Join(",", widths)}]";
                widths.Sum().Should().Be(tokens, because);
                if (tokens == 1)
                {
                    widths.Should().Equal([1], because);
                    continue;
                }
                for (int i = 0; i < widths.Count; i++)
                {
                    bool last = i == widths.Count - 1;
                    PromptChunking.IsExact(widths[i] + (last ? trailing : 0)).Should().BeTrue(because);
                    // Close to the budget: never more than two tokens over it (or the whole rest).
                    if (!last) widths[i].Should().BeLessThanOrEqualTo(Math.Max(2, budget) + 2, because);
                }
            }
        }
    }

    [Fact]
    public void A_cut_moves_only_when_it_must()
    {
        PromptChunking.NextWidth(100, 24).Should().Be(24);
        PromptChunking.NextWidth(25, 24).Should().Be(23, "24 would leave a single token");
        PromptChunking.NextWidth(3, 2).Should().Be(3, "2 would leave a single token, and there is nothing below 2");
        PromptChunking.NextWidth(100, 33).Should().Be(32, "a chunk of 33 computes its last row differently");
        PromptChunking.NextWidth(33, 64).Should().Be(31, "the whole 33 is not exact, 32 would leave one");
        PromptChunking.NextWidth(30, 64, trailing: 3).Should().Be(28, "30 + a cue of 3 is 33 tokens");
        PromptChunking.NextWidth(40, 64, trailing: 3).Should().Be(40);
        PromptChunking.NextWidth(1, 10, trailing: 3).Should().Be(1);
        FluentActions.Invoking(() => PromptChunking.NextWidth(0, 10)).Should().Throw<ArgumentOutOfRangeException>();
    }

    [Theory]
    [InlineData("shared-buffer")]
    [InlineData("shared-buffer-int8")]
    [InlineData("shared-buffer-fp16-kv")]
    [InlineData("shared-buffer-int8-kv")]
    [InlineData("shared-buffer-int8-int8-kv")]
    [InlineData("shared-buffer-int8-kv-lanes")]
    [InlineData("shared-buffer-lanes")]
    public void A_prompt_cut_anywhere_the_rule_allows_computes_the_same_bits(string variant)
    {
        var session = models.Session(variant);
        var random = new Random(3);
        for (int n = 3; n <= 72; n++)
        {
            int[] prompt = Enumerable.Range(0, n).Select(_ => random.Next(0, 151_000)).ToArray();
            float[] reference = LastLogits(session, prompt, Cut(n, () => 2));
            for (int trial = 0; trial < 4; trial++)
            {
                var widths = Cut(n, () => random.Next(0, 80));
                LastLogits(session, prompt, widths).Should().Equal(reference, $"{variant}, {n} tokens cut [{string.Join(",", widths)}]");
            }
        }
    }

    /// <summary>The prompt cut as the engine would, with a new budget for each chunk.</summary>
    private static List<int> Cut(int tokens, Func<int> budget)
    {
        var widths = new List<int>();
        for (int done = 0; done < tokens; done += widths[^1]) widths.Add(PromptChunking.NextWidth(tokens - done, budget(), Cue.Length));
        return widths;
    }

    /// <summary>The logits at the cue's end, the cue riding in the prompt's last chunk.</summary>
    private static float[] LastLogits(DecoderSession session, int[] prompt, IReadOnlyList<int> widths)
    {
        using var kv = session.CreateSlotCache();
        kv.Reserve(2, prompt.Length + Cue.Length);
        int done = 0;
        float[] result = [];
        foreach (int width in widths)
        {
            bool last = done + width == prompt.Length;
            long[] ids = [.. prompt.Skip(done).Take(width).Concat(last ? Cue : []).Select(t => (long)t)];
            long[] positions = [.. Enumerable.Range(done, ids.Length).Select(p => (long)p)];
            using var logits = session.StepSlots(ids, positions, ids.Length, kv, 1, 1);
            if (last) result = logits.Last(0).ToArray();
            done += width;
        }
        return result;
    }
}
