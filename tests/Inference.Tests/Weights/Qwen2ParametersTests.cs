using FluentAssertions;
using Qwen.Inference.Models;
using Xunit;

namespace Qwen.Inference.Tests.Weights;

public sealed class Qwen2ParametersTests
{
    [Fact]
    public void Tiny_config_lists_parameters_in_checkpoint_order_with_hf_shapes()
    {
        IReadOnlyList<Qwen2Parameter> ps = Qwen2Parameters.For(QwenConfig.Tiny);

        ps.Should().HaveCount(1 + 2 * 12 + 1);
        ps[0].Name.Should().Be("model.embed_tokens.weight");
        ps[0].Shape.Should().Equal(151_936, 64);
        ps[0].Kind.Should().Be(ParameterKind.Embedding);
        ps.Skip(1).Take(12).Select(p => p.Name).Should().Equal(
            "model.layers.0.input_layernorm.weight",
            "model.layers.0.self_attn.q_proj.weight",
            "model.layers.0.self_attn.q_proj.bias",
            "model.layers.0.self_attn.k_proj.weight",
            "model.layers.0.self_attn.k_proj.bias",
            "model.layers.0.self_attn.v_proj.weight",
            "model.layers.0.self_attn.v_proj.bias",
            "model.layers.0.self_attn.o_proj.weight",
            "model.layers.0.post_attention_layernorm.weight",
            "model.layers.0.mlp.gate_proj.weight",
            "model.layers.0.mlp.up_proj.weight",
            "model.layers.0.mlp.down_proj.weight");
        ps.Single(p => p.Name == "model.layers.1.self_attn.k_proj.weight").Shape.Should().Equal(32, 64);
        ps.Single(p => p.Name == "model.layers.1.self_attn.o_proj.weight").Shape.Should().Equal(64, 64);
        ps.Single(p => p.Name == "model.layers.1.mlp.down_proj.weight").Shape.Should().Equal(64, 128);
        ps[^1].Name.Should().Be("model.norm.weight");
        ps.Should().NotContain(p => p.Name == "lm_head.weight");
    }

    [Fact]
    public void Untied_config_adds_lm_head_last()
    {
        IReadOnlyList<Qwen2Parameter> ps = Qwen2Parameters.For(QwenConfig.Tiny with { TieWordEmbeddings = false });
        ps[^1].Should().BeEquivalentTo(new Qwen2Parameter("lm_head.weight", [151_936, 64], ParameterKind.Linear));
    }

    [Fact]
    public void Element_counts_match_the_published_model_size()
    {
        // Qwen1.5-0.5B has 463,987,712 parameters (embedding tied).
        Qwen2Parameters.TotalElementCount(QwenConfig.Qwen15_05B).Should().Be(463_987_712);
        new Qwen2Parameter("x", [3, 5], ParameterKind.Linear).ElementCount.Should().Be(15);
    }
}
