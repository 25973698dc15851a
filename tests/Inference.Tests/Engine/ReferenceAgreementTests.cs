using Xunit;
using FluentAssertions;
using Qwen.Inference.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Engine;

/// <summary>The ONNX model against the plain C# forward pass on the same weights (fp32, tiny preset).</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ReferenceAgreementTests(TinyModels models)
{
    private const float Tolerance = 1e-3f;

    [Theory]
    [InlineData("fp32")]
    [InlineData("shared-buffer")]
    public void Full_prompt_logits_match_the_reference_at_every_position(string variant)
    {
        var session = models.Session(variant);
        int[] prompt = RandomIds(1, 12);
        using var cache = session.CreateCache(1);
        using var logits = Prefill(session, prompt, cache, keep: 0);
        float[][] expected = models.Reference.Forward(prompt);

        logits.Positions.Should().Be(prompt.Length);
        for (int t = 0; t < prompt.Length; t++) MaxAbsDiff(logits.Row(0, t), expected[t]).Should().BeLessThan(Tolerance, $"position {t}");
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("shared-buffer")]
    public void Step_by_step_decoding_through_the_kv_cache_matches_the_reference(string variant)
    {
        var session = models.Session(variant);
        int[] sequence = RandomIds(2, 11);
        float[][] expected = models.Reference.Forward(sequence);
        using var cache = session.CreateCache(1);
        using (var first = Prefill(session, sequence[..5], cache, keep: 1))
        {
            MaxAbsDiff(first.Last(0), expected[4]).Should().BeLessThan(Tolerance);
        }
        for (int t = 5; t < sequence.Length; t++)
        {
            long[] mask = Enumerable.Repeat(1L, t + 1).ToArray();
            using var step = session.Step([sequence[t]], mask, [t], 1, cache, 1);
            cache.PastLength.Should().Be(t + 1);
            MaxAbsDiff(step.Last(0), expected[t]).Should().BeLessThan(Tolerance, $"decode position {t}");
        }
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("shared-buffer")]
    public void Left_padded_batch_of_different_lengths_matches_each_prompt_alone(string variant)
    {
        var session = models.Session(variant);
        int[][] prompts = [RandomIds(3, 3), RandomIds(4, 9), RandomIds(5, 6)];
        int[] next = RandomIds(6, 3);
        var layout = new Qwen.Inference.Generation.BatchLayout(prompts);
        using var cache = session.CreateCache(prompts.Length);
        using (var logits = session.Step(layout.InputIds, layout.AttentionMask, layout.PositionIds, layout.Length, cache, 0))
        {
            for (int b = 0; b < prompts.Length; b++)
            {
                float[][] expected = models.Reference.Forward(prompts[b]);
                int pad = layout.Length - prompts[b].Length;
                for (int t = 0; t < prompts[b].Length; t++)
                    MaxAbsDiff(logits.Row(b, pad + t), expected[t]).Should().BeLessThan(Tolerance, $"sequence {b} position {t}");
            }
        }

        // One decode step for the whole batch, each sequence continuing at its own position.
        long[] mask = Qwen.Inference.Generation.BatchLayout.ExtendMask(layout.AttentionMask, prompts.Length, [1, 1, 1]);
        long[] positions = prompts.Select(p => (long)p.Length).ToArray();
        using var step = session.Step(next.Select(i => (long)i).ToArray(), mask, positions, 1, cache, 1);
        for (int b = 0; b < prompts.Length; b++)
        {
            float[] expected = models.Reference.LastLogits([.. prompts[b], next[b]]);
            MaxAbsDiff(step.Last(b), expected).Should().BeLessThan(Tolerance, $"decode of sequence {b}");
        }
    }

    [Fact]
    public void Int8_model_logits_stay_close_to_fp32()
    {
        var fp32 = models.Session("fp32");
        var int8 = models.Session("int8");
        float worst = 0;
        double sum = 0;
        long count = 0;
        for (int seed = 10; seed < 14; seed++)
        {
            int[] prompt = RandomIds(seed, 8);
            using var c1 = fp32.CreateCache(1);
            using var c2 = int8.CreateCache(1);
            using var a = Prefill(fp32, prompt, c1, keep: 0);
            using var b = Prefill(int8, prompt, c2, keep: 0);
            for (int t = 0; t < prompt.Length; t++)
            {
                worst = Math.Max(worst, MaxAbsDiff(a.Row(0, t), b.Row(0, t)));
                for (int v = 0; v < a.VocabSize; v++) sum += Math.Abs(a.Row(0, t)[v] - b.Row(0, t)[v]);
                count += a.VocabSize;
            }
        }
        // Logits of this random model span about ±5 (std ≈ 1.2); int8 weights with per-row
        // 8-bit activations move them by a few hundredths on average.
        worst.Should().BeLessThan(Int8MaxBound);
        (sum / count).Should().BeLessThan(Int8MeanBound);
    }

    /// <summary>Bounds the tiny int8 model is held to: max and mean |logit − fp32 logit|.</summary>
    public const float Int8MaxBound = 0.3f, Int8MeanBound = 0.05f;

    internal static StepLogits Prefill(DecoderSession session, int[] prompt, KvCache cache, int keep)
    {
        long[] ids = prompt.Select(i => (long)i).ToArray();
        long[] mask = Enumerable.Repeat(1L, prompt.Length).ToArray();
        long[] positions = Enumerable.Range(0, prompt.Length).Select(i => (long)i).ToArray();
        return session.Step(ids, mask, positions, prompt.Length, cache, keep);
    }
}
