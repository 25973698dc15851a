using Xunit;
using Xunit.Abstractions;
using FluentAssertions;
using Qwen.Inference.Engine;
using Qwen.Inference.Tests.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// A smaller KV element changes the numbers, not the answer where the answer is clear: fed the
/// float32-KV model's greedy tokens, the float16- or int8-KV model (same seed, same weights)
/// picks the same token at every position where the float32 run's top logit leads the runner-up
/// by more than a margin, moves no logit by more than a bound, and agrees at most positions
/// overall (the tiny models' logits are flat, so many calls are close). Float16 KV moves the
/// logits by at most 0.01 with float32 weights and 0.21 with int8 weights (the per-row activation
/// quantization turns the KV's rounding into whole quantization steps); int8 KV, whose step is a
/// channel's calibrated range over 127, by at most 0.33 and 0.53. The margins are about twice that.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class KvPrecisionAgreementTests(TinyModels models, ITestOutputHelper output)
{
    private const int Prompts = 36;
    private const int NewTokens = 16;

    [Theory]
    [InlineData("shared-buffer", "shared-buffer-fp16-kv", 0.05f, 0.02f, 0.99)]
    [InlineData("shared-buffer-int8", "shared-buffer-int8-fp16-kv", 0.25f, 0.3f, 0.92)]
    [InlineData("shared-buffer", "shared-buffer-int8-kv", 0.7f, 0.45f, 0.9)]
    [InlineData("shared-buffer-int8", "shared-buffer-int8-int8-kv", 1.1f, 0.7f, 0.85)]
    public void Greedy_tokens_agree_wherever_the_float32_choice_is_clear(string fp32Variant, string smallerKvVariant, float margin,
        float maxDifference, double minAgreement)
    {
        var reference = models.Session(fp32Variant);
        var smaller = models.Session(smallerKvVariant);
        int compared = 0, close = 0, closeDisagreeing = 0;
        float maxDiff = 0;
        for (int p = 0; p < Prompts; p++)
        {
            int[] prompt = RandomIds(900 + p, 3 + p % 29);
            var (tokens, expected) = Run(reference, prompt, null);
            var (_, actual) = Run(smaller, prompt, tokens);
            for (int i = 0; i < expected.Length; i++)
            {
                maxDiff = Math.Max(maxDiff, MaxAbsDiff(expected[i], actual[i]));
                bool agrees = ArgMax(actual[i]) == tokens[i];
                if (TopTwoGap(expected[i]) > margin)
                {
                    agrees.Should().BeTrue($"prompt {p}, new token {i}: the float32 run's gap is {TopTwoGap(expected[i])}");
                    compared++;
                }
                else
                {
                    close++;
                    if (!agrees) closeDisagreeing++;
                }
            }
        }
        output.WriteLine($"{smallerKvVariant}: {compared} positions compared, {close} within the margin of {margin} ({closeDisagreeing} of them differ), " +
                         $"max |logit difference| {maxDiff}");
        maxDiff.Should().BeLessThanOrEqualTo(maxDifference);
        (1 - (double)closeDisagreeing / (Prompts * NewTokens)).Should().BeGreaterThanOrEqualTo(minAgreement, "most greedy choices agree");
    }

    /// <summary>
    /// Prompt then <see cref="NewTokens"/> one-token steps; the tokens fed are the greedy choices,
    /// or <paramref name="forced"/> when given. Returns the tokens fed and each step's logits.
    /// </summary>
    private static (int[] Tokens, float[][] Logits) Run(DecoderSession session, int[] prompt, int[]? forced)
    {
        using var cache = session.CreateSlotCache();
        cache.Reserve(1, prompt.Length + NewTokens);
        var tokens = new int[NewTokens];
        var logits = new float[NewTokens][];
        long[] ids = prompt.Select(t => (long)t).ToArray();
        long[] positions = Enumerable.Range(0, prompt.Length).Select(i => (long)i).ToArray();
        for (int i = 0; i < NewTokens; i++)
        {
            using (var step = session.StepSlots(ids, positions, ids.Length, cache, 0, 1))
            {
                logits[i] = step.Last(0).ToArray();
            }
            tokens[i] = forced?[i] ?? ArgMax(logits[i]);
            ids = [tokens[i]];
            positions = [prompt.Length + i];
        }
        return (tokens, logits);
    }

    private static float TopTwoGap(float[] row)
    {
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (float v in row)
        {
            if (v > first)
            {
                second = first;
                first = v;
            }
            else if (v > second)
            {
                second = v;
            }
        }
        return first - second;
    }
}
