using Xunit;
using FluentAssertions;
using Qwen.Inference.Generation;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Engine;

[Collection(TinyModelCollection.Name)]
public sealed class GenerationTests(TinyModels models)
{
    private static readonly int[][] Prompts = [RandomIds(20, 4), RandomIds(21, 13), RandomIds(22, 7), RandomIds(23, 1), RandomIds(24, 10)];

    [Fact]
    public void Greedy_generation_is_deterministic()
    {
        var generator = new Generator(models.Session("fp32"));
        var first = generator.Generate(Prompts[1], GenerationOptions.Greedy(16));
        var second = generator.Generate(Prompts[1], GenerationOptions.Greedy(16));
        second.Tokens.Should().Equal(first.Tokens);
        first.Tokens.Should().HaveCount(16);
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("int8")]
    public void A_sequence_generates_the_same_tokens_alone_and_in_a_batch(string variant)
    {
        var generator = new Generator(models.Session(variant));
        var requests = Prompts.Select((p, i) => new GenerationRequest(p, GenerationOptions.Greedy(6 + 3 * i))).ToArray();
        var alone = requests.Select(r => generator.Generate(r.PromptIds, r.Options).Tokens).ToArray();
        var batched = generator.GenerateBatch(requests);
        for (int i = 0; i < requests.Length; i++) batched[i].Tokens.Should().Equal(alone[i], $"sequence {i}");
    }

    [Fact]
    public void Concurrent_generations_on_one_session_equal_their_solo_results()
    {
        var generator = new Generator(models.Session("fp32"));
        var alone = Prompts.Select(p => generator.Generate(p, GenerationOptions.Greedy(8)).Tokens).ToArray();
        var concurrent = Prompts.AsParallel().WithDegreeOfParallelism(4)
            .Select((p, i) => (i, generator.Generate(p, GenerationOptions.Greedy(8)).Tokens)).ToArray();
        foreach (var (i, tokens) in concurrent) tokens.Should().Equal(alone[i]);
    }

    [Fact]
    public void Sampling_with_a_seed_is_reproducible_and_the_seed_matters()
    {
        var generator = new Generator(models.Session("fp32"));
        var options = new GenerationOptions { MaxNewTokens = 12, DoSample = true, Temperature = 1.5f, TopP = 0.95f, Seed = 99 };
        var a = generator.Generate(Prompts[0], options).Tokens;
        var b = generator.Generate(Prompts[0], options).Tokens;
        var c = generator.Generate(Prompts[0], options with { Seed = 100 }).Tokens;
        b.Should().Equal(a);
        c.Should().NotEqual(a);
        // The same seeded request inside a batch draws the same tokens: each sequence owns its RNG.
        var batched = generator.GenerateBatch([new(Prompts[2], options with { Seed = 5 }), new(Prompts[0], options)]);
        batched[1].Tokens.Should().Equal(a);
    }

    [Fact]
    public void Top_k_of_one_equals_greedy()
    {
        var generator = new Generator(models.Session("fp32"));
        var greedy = generator.Generate(Prompts[4], GenerationOptions.Greedy(10)).Tokens;
        var topOne = generator.Generate(Prompts[4], new GenerationOptions { MaxNewTokens = 10, DoSample = true, TopK = 1, Temperature = 2f, Seed = 3 }).Tokens;
        topOne.Should().Equal(greedy);
    }

    [Fact]
    public void Generation_stops_at_a_stop_token_and_reports_why()
    {
        var generator = new Generator(models.Session("fp32"));
        var free = generator.Generate(Prompts[2], GenerationOptions.Greedy(5));
        free.FinishReason.Should().Be(FinishReason.Length);
        int stop = free.Tokens[2];
        var stopped = generator.Generate(Prompts[2], GenerationOptions.Greedy(5) with { StopTokenIds = [stop] });
        stopped.FinishReason.Should().Be(FinishReason.Stop);
        stopped.Tokens.Should().Equal(free.Tokens.Take(free.Tokens.ToList().IndexOf(stop) + 1));
    }

    [Fact]
    public void Streaming_callback_sees_every_token_in_order()
    {
        var generator = new Generator(models.Session("fp32"));
        var streamed = new List<int>();
        var result = generator.Generate(Prompts[3], GenerationOptions.Greedy(7), streamed.Add);
        streamed.Should().Equal(result.Tokens);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Every_io_variant_generates_the_same_tokens_as_the_default_layout(string variant)
    {
        var expected = new Generator(models.Session("fp32")).GenerateBatch(Prompts.Select(p => new GenerationRequest(p, GenerationOptions.Greedy(8))).ToArray());
        var actual = new Generator(models.Session(variant)).GenerateBatch(Prompts.Select(p => new GenerationRequest(p, GenerationOptions.Greedy(8))).ToArray());
        for (int i = 0; i < Prompts.Length; i++) actual[i].Tokens.Should().Equal(expected[i].Tokens, $"prompt {i}");
    }

    // Quantized weights, and an int8 KV cache, change the numbers: their agreement is checked with margins elsewhere
    // (KvPrecisionAgreementTests for the KV).
    public static TheoryData<string> Variants() => new(TinyModels.VariantNames.Where(v => v is not ("fp32" or "int8" or "shared-buffer-int8" or "shared-buffer-int4" or "shared-buffer-int8-fp16-kv" or "shared-buffer-int8-lanes")
        && !v.Contains("int8-kv", StringComparison.Ordinal)));
}
