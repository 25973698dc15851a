using System.Numerics;
using System.Text;
using FluentAssertions;
using Qwen.Inference.Models;
using Xunit;

namespace Qwen.Inference.Tests.Weights;

public sealed class HashWeightSourceTests
{
    private static readonly BigInteger Mod = BigInteger.One << 64;

    /// <summary>The README rule re-derived with arbitrary-precision arithmetic, independent of the product code.</summary>
    private static double ReadmeU(string name, long index)
    {
        BigInteger h = BigInteger.Parse("0cbf29ce484222325", System.Globalization.NumberStyles.HexNumber);
        BigInteger prime = BigInteger.Parse("0100000001b3", System.Globalization.NumberStyles.HexNumber);
        foreach (byte b in Encoding.UTF8.GetBytes(name)) h = (h ^ b) * prime % Mod;

        BigInteger golden = BigInteger.Parse("09E3779B97F4A7C15", System.Globalization.NumberStyles.HexNumber);
        BigInteger m1 = BigInteger.Parse("0BF58476D1CE4E5B9", System.Globalization.NumberStyles.HexNumber);
        BigInteger m2 = BigInteger.Parse("094D049BB133111EB", System.Globalization.NumberStyles.HexNumber);
        BigInteger z = h ^ (index * golden % Mod);
        z = (z ^ (z >> 30)) * m1 % Mod;
        z = (z ^ (z >> 27)) * m2 % Mod;
        z ^= z >> 31;
        long top24 = (long)(z >> 40);
        return top24 / Math.Pow(2, 24) * 2 - 1;
    }

    [Theory]
    [InlineData("model.embed_tokens.weight", 0L)]
    [InlineData("model.embed_tokens.weight", 12345L)]
    [InlineData("model.embed_tokens.weight", 9_723_903L)] // last element of the tiny embedding
    [InlineData("model.layers.1.mlp.down_proj.weight", 777L)]
    public void Linear_and_embedding_values_follow_the_readme_rule(string name, long index)
    {
        var source = new HashWeightSource(QwenConfig.Tiny);
        float expected = 0.25f * (float)ReadmeU(name, index);
        source.ValueAt(name, index).Should().Be(expected);
    }

    [Fact]
    public void Bias_and_norm_values_follow_the_readme_rule()
    {
        var source = new HashWeightSource(QwenConfig.Tiny);
        const string bias = "model.layers.0.self_attn.k_proj.bias";
        const string norm = "model.layers.1.post_attention_layernorm.weight";
        source.ValueAt(bias, 5).Should().Be(0.1f * (float)ReadmeU(bias, 5));
        source.ValueAt(norm, 63).Should().Be(1.0f + 0.1f * (float)ReadmeU(norm, 63));
    }

    [Fact]
    public void Fill_matches_per_element_values_across_parallel_chunks()
    {
        var source = new HashWeightSource(QwenConfig.Tiny);
        const string name = "model.embed_tokens.weight";
        var data = new float[151_936 * 64];
        source.Fill(name, data);

        // Indices around chunk boundaries and spread across the tensor.
        long[] probes = [0, 1, 65_535, 65_536, 65_537, 12345, 4_000_000, data.Length - 1];
        foreach (long i in probes)
            data[i].Should().Be(source.ValueAt(name, i), $"element {i}");
        data[12345].Should().Be(0.25f * (float)ReadmeU(name, 12345));
    }

    [Fact]
    public void Same_seed_is_deterministic_and_other_seeds_differ()
    {
        const string name = "model.layers.0.self_attn.q_proj.weight";
        float[] Fill(ulong seed)
        {
            var data = new float[64 * 64];
            new HashWeightSource(QwenConfig.Tiny, seed).Fill(name, data);
            return data;
        }

        Fill(0).Should().Equal(Fill(0));
        Fill(42).Should().Equal(Fill(42));
        Fill(42).Should().NotEqual(Fill(0));
        Fill(42).Should().NotEqual(Fill(43));
    }

    [Fact]
    public void Values_stay_within_their_kind_ranges()
    {
        QwenConfig config = QwenConfig.Tiny with { VocabSize = 1000, TieWordEmbeddings = false };
        var source = new HashWeightSource(config, seed: 3);
        foreach (Qwen2Parameter p in Qwen2Parameters.For(config))
        {
            var data = new float[p.ElementCount];
            source.Fill(p.Name, data);
            (float lo, float hi) = p.Kind switch
            {
                ParameterKind.Bias => (-0.1f, 0.1f),
                ParameterKind.Norm => (0.9f, 1.1f),
                _ => (-0.25f, 0.25f),
            };
            data.Should().OnlyContain(v => v >= lo && v <= hi, p.Name);
            data.Distinct().Count().Should().BeGreaterThan(data.Length / 2, "values should look random");
        }
    }

    [Fact]
    public void Unknown_name_or_wrong_length_is_rejected()
    {
        var source = new HashWeightSource(QwenConfig.Tiny);
        FluentActions.Invoking(() => source.Fill("model.layers.9.mlp.up_proj.weight", new float[128 * 64]))
            .Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => source.Fill("lm_head.weight", new float[151_936 * 64]))
            .Should().Throw<ArgumentException>("the tiny config ties its embeddings");
        FluentActions.Invoking(() => source.Fill("model.norm.weight", new float[63]))
            .Should().Throw<ArgumentException>();
    }
}
