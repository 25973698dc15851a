using Xunit;
using System.Text.Json.Nodes;
using FluentAssertions;
using Qwen.Cli;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;

namespace Qwen.Inference.Tests.Engine;

/// <summary>Bad models, ids, prompts and options end in a clear exception, never a crash or a hang.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class BadInputTests(TinyModels models)
{
    [Fact]
    public void Missing_model_directory_is_reported()
    {
        var act = () => DecoderSession.Open("/nonexistent/model");
        act.Should().Throw<InvalidModelException>().WithMessage("*does not exist*");
    }

    [Fact]
    public void Directory_without_config_is_reported()
    {
        string dir = Directory.CreateTempSubdirectory("qwen-empty-").FullName;
        try
        {
            var act = () => DecoderSession.Open(dir);
            act.Should().Throw<InvalidModelException>().WithMessage("*config.json not found*");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Missing_onnx_file_is_reported()
    {
        WithCopy(dir =>
        {
            File.Delete(Path.Combine(dir, "onnx", "model.onnx"));
            var act = () => DecoderSession.Open(dir);
            act.Should().Throw<InvalidModelException>().WithMessage("*no .onnx file*");
        });
    }

    [Fact]
    public void Corrupt_onnx_file_is_reported_with_the_runtime_message()
    {
        WithCopy(dir =>
        {
            File.WriteAllBytes(Path.Combine(dir, "onnx", "model.onnx"), [1, 2, 3, 4, 5, 0xFF, 0x00, 0x42]);
            var act = () => DecoderSession.Open(dir);
            act.Should().Throw<InvalidModelException>().WithMessage("*ONNX Runtime cannot load*");
        });
    }

    [Fact]
    public void Truncated_external_weights_are_reported()
    {
        WithCopy(dir =>
        {
            string data = Path.Combine(dir, "onnx", "model.onnx_data");
            using (var stream = new FileStream(data, FileMode.Open)) stream.SetLength(stream.Length / 2);
            var act = () => DecoderSession.Open(dir);
            act.Should().Throw<InvalidModelException>();
        });
    }

    [Theory]
    [InlineData("num_hidden_layers", 3, "*layers*")]
    [InlineData("num_hidden_layers", 1, "*layer*")]
    [InlineData("num_key_value_heads", 4, "*num_key_value_heads*")]
    [InlineData("vocab_size", 1000, "*vocab_size*")]
    public void Config_that_does_not_match_the_graph_is_reported(string field, int value, string message)
    {
        WithCopy(dir =>
        {
            string path = Path.Combine(dir, "config.json");
            var json = JsonNode.Parse(File.ReadAllText(path))!;
            json[field] = value;
            File.WriteAllText(path, json.ToJsonString());
            var act = () => DecoderSession.Open(dir);
            act.Should().Throw<InvalidModelException>().WithMessage(message);
        });
    }

    [Fact]
    public void Invalid_config_json_is_reported()
    {
        WithCopy(dir =>
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), "{ not json");
            var act = () => DecoderSession.Open(dir);
            act.Should().Throw<InvalidModelException>().WithMessage("*not valid JSON*");
        });
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(151_936)]
    [InlineData(int.MaxValue)]
    public void Token_ids_outside_the_vocabulary_are_rejected(int id)
    {
        var generator = new Generator(models.Session("fp32"));
        var act = () => generator.Generate([1, id, 2], GenerationOptions.Greedy(2));
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*outside the vocabulary*");
    }

    [Fact]
    public void Empty_prompt_is_rejected()
    {
        var act = () => new Generator(models.Session("fp32")).Generate([], GenerationOptions.Greedy(2));
        act.Should().Throw<ArgumentException>().WithMessage("*empty*");
    }

    [Fact]
    public void Prompt_longer_than_the_context_window_is_rejected()
    {
        using var session = DecoderSession.Open(models.PathOf("fp32"), new DecoderSessionOptions { ContextWindow = 16 });
        var generator = new Generator(session);
        var act = () => generator.Generate(Enumerable.Range(1, 20).ToArray(), GenerationOptions.Greedy(1));
        act.Should().Throw<ArgumentException>().WithMessage("*context window of 16*");
        var tooMany = () => generator.Generate([1, 2, 3], GenerationOptions.Greedy(14));
        tooMany.Should().Throw<ArgumentException>().WithMessage("*context window*");
        generator.Generate([1, 2, 3], GenerationOptions.Greedy(13)).Tokens.Should().HaveCount(13);
    }

    public static TheoryData<GenerationOptions, string> InvalidOptions() => new()
    {
        { new GenerationOptions { DoSample = true, Temperature = -0.5f }, "*emperature*" },
        { new GenerationOptions { DoSample = true, Temperature = float.NaN }, "*emperature*" },
        { new GenerationOptions { DoSample = true, TopP = 0f }, "*op*p*" },
        { new GenerationOptions { DoSample = true, TopP = 1.5f }, "*op*p*" },
        { new GenerationOptions { DoSample = true, TopK = -1 }, "*op*k*" },
        { new GenerationOptions { RepetitionPenalty = 0f }, "*epetition*" },
        { new GenerationOptions { MaxNewTokens = 0 }, "*ax*new*" },
        { new GenerationOptions { StopTokenIds = [200_000] }, "*top*" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_generation_options_are_rejected(GenerationOptions options, string message)
    {
        var act = () => new Generator(models.Session("fp32")).Generate([1, 2, 3], options);
        act.Should().Throw<InvalidGenerationOptionsException>().WithMessage(message);
    }

    [Fact]
    public void Cancellation_stops_generation()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var act = () => new Generator(models.Session("fp32")).Generate([1, 2, 3], GenerationOptions.Greedy(50), cancellationToken: cts.Token);
        act.Should().Throw<OperationCanceledException>();
    }

    [Theory]
    [InlineData("--prompt-ids", "1,x,3")]
    [InlineData("--prompt-ids", "1,999999")]
    [InlineData("--temperature", "-1")]
    public async Task Cli_generate_reports_bad_input_with_exit_code_2(string option, string value)
    {
        string[] args = option == "--prompt-ids"
            ? ["generate", "--model", models.PathOf("fp32"), option, value]
            : ["generate", "--model", models.PathOf("fp32"), "--prompt-ids", "1,2,3", option, value];
        (await CliApp.RunAsync(args)).Should().Be(CliApp.UsageError);
    }

    private void WithCopy(Action<string> test)
    {
        string dir = models.CopyOf("fp32");
        try
        {
            test(dir);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
