using FluentAssertions;
using Qwen.Inference.Generation;
using Xunit;

namespace Qwen.Inference.Tests.Generation;

public sealed class GenerationOptionsTests
{
    private const int Vocab = 1000;

    [Fact]
    public void Defaults_are_greedy_and_valid()
    {
        var options = new GenerationOptions();
        options.MaxNewTokens.Should().Be(64);
        options.IsGreedy.Should().BeTrue();
        options.TopK.Should().Be(0);
        options.TopP.Should().Be(1);
        options.RepetitionPenalty.Should().Be(1);
        options.StopTokenIds.Should().BeEmpty();
        options.Seed.Should().BeNull();
        options.Validate(Vocab).Should().BeSameAs(options);
    }

    [Fact]
    public void Greedy_factory_sets_only_the_length()
    {
        var options = GenerationOptions.Greedy(10);
        options.Should().Be(new GenerationOptions { MaxNewTokens = 10, StopTokenIds = options.StopTokenIds });
        options.IsGreedy.Should().BeTrue();
    }

    [Theory]
    [InlineData(false, 1.0f, true)]
    [InlineData(true, 1.0f, false)]
    [InlineData(true, 0.0f, true)]
    [InlineData(false, 0.0f, true)]
    public void IsGreedy_unless_sampling_at_a_positive_temperature(bool doSample, float temperature, bool greedy) =>
        new GenerationOptions { DoSample = doSample, Temperature = temperature }.IsGreedy.Should().Be(greedy);

    [Fact]
    public void Accepts_the_edges_of_every_range()
    {
        var options = new GenerationOptions
        {
            MaxNewTokens = GenerationOptions.MaxNewTokensLimit,
            DoSample = true,
            Temperature = 0,
            TopK = Vocab * 10,
            TopP = 1,
            RepetitionPenalty = float.Epsilon,
            StopTokenIds = [0, Vocab - 1],
        };
        options.Validate(Vocab).Should().BeSameAs(options);
        new GenerationOptions { MaxNewTokens = 1, TopP = float.Epsilon }.Validate(Vocab);
    }

    public static TheoryData<GenerationOptions, string, string> Invalid => new()
    {
        { new() { MaxNewTokens = 0 }, "MaxNewTokens", "MaxNewTokens must be in [1, 32768] but was 0." },
        { new() { MaxNewTokens = 32769 }, "MaxNewTokens", "MaxNewTokens must be in [1, 32768] but was 32769." },
        { new() { Temperature = -1 }, "Temperature", "Temperature must be finite and >= 0 (0 means greedy) but was -1." },
        { new() { Temperature = float.NaN }, "Temperature", "Temperature must be finite and >= 0 (0 means greedy) but was NaN." },
        { new() { Temperature = float.PositiveInfinity }, "Temperature", "Temperature must be finite and >= 0 (0 means greedy) but was Infinity." },
        { new() { TopK = -1 }, "TopK", "TopK must be >= 0 (0 disables top-k) but was -1." },
        { new() { TopP = 0 }, "TopP", "TopP must be in (0, 1] (1 disables top-p) but was 0." },
        { new() { TopP = 1.5f }, "TopP", "TopP must be in (0, 1] (1 disables top-p) but was 1.5." },
        { new() { TopP = float.NaN }, "TopP", "TopP must be in (0, 1] (1 disables top-p) but was NaN." },
        { new() { RepetitionPenalty = 0 }, "RepetitionPenalty", "RepetitionPenalty must be finite and > 0 (1 disables the penalty) but was 0." },
        { new() { RepetitionPenalty = -1.1f }, "RepetitionPenalty", "RepetitionPenalty must be finite and > 0 (1 disables the penalty) but was -1.1." },
        { new() { StopTokenIds = [2, Vocab] }, "StopTokenIds", "StopTokenIds must contain token ids in [0, 1000) but contained 1000 at position 1." },
        { new() { StopTokenIds = [-1] }, "StopTokenIds", "StopTokenIds must contain token ids in [0, 1000) but contained -1 at position 0." },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Rejects_each_out_of_range_option_with_a_precise_message(GenerationOptions options, string option, string message)
    {
        var thrown = ((Action)(() => options.Validate(Vocab))).Should().Throw<InvalidGenerationOptionsException>().Which;
        thrown.ParamName.Should().Be(option);
        thrown.Message.Should().StartWith(message);
        thrown.Should().BeAssignableTo<ArgumentException>();
    }

    [Fact]
    public void The_sampler_rejects_options_that_are_invalid_for_any_vocabulary()
    {
        var act = () => new TokenSampler(new GenerationOptions { DoSample = true, TopP = 0 });
        act.Should().Throw<InvalidGenerationOptionsException>().Which.ParamName.Should().Be("TopP");
    }

    [Fact]
    public void Rejects_a_non_positive_vocabulary()
    {
        var act = () => new GenerationOptions().Validate(0);
        act.Should().Throw<ArgumentOutOfRangeException>();
    }
}
