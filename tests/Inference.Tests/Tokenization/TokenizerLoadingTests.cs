using Xunit;
using System.Text;
using System.Text.Json.Nodes;
using FluentAssertions;
using Qwen.Inference.Building;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Tests.Tokenization;

/// <summary>Broken or unsupported tokenizer.json files are refused with a message that names the problem.</summary>
public sealed class TokenizerLoadingTests
{
    private static readonly string BundledPath = Path.Combine(ModelDirectoryBuilder.BundledTokenizerDirectory, "tokenizer.json");

    [Fact]
    public void Missing_file_is_reported()
    {
        var act = () => BpeTokenizer.Load("/nonexistent/tokenizer.json");
        act.Should().Throw<InvalidModelException>().WithMessage("*tokenizer.json not found*");
    }

    [Fact]
    public void A_model_directory_can_be_given_instead_of_the_file()
    {
        BpeTokenizer.Load(ModelDirectoryBuilder.BundledTokenizerDirectory).VocabSize.Should().Be(151669);
    }

    [Fact]
    public void Truncated_file_is_reported_as_invalid_JSON_with_its_position()
    {
        byte[] bytes = File.ReadAllBytes(BundledPath);
        var act = () => BpeTokenizer.FromJson(bytes.AsMemory(0, bytes.Length / 2));
        act.Should().Throw<InvalidModelException>().WithMessage("*not valid JSON (line *truncated*");
    }

    [Theory]
    [InlineData("", "*not valid JSON*")]
    [InlineData("[]", "*not a JSON object*")]
    [InlineData("{}", "*no \"model\" object*")]
    [InlineData("{\"model\":{\"type\":\"Unigram\"}}", "*model type 'Unigram' is not supported*")]
    public void Wrong_shapes_are_reported(string json, string message)
    {
        var act = () => BpeTokenizer.FromJson(Encoding.UTF8.GetBytes(json));
        act.Should().Throw<InvalidModelException>().WithMessage(message);
    }

    [Theory]
    [InlineData("normalizer", "{\"type\":\"NFKC\"}", "*normalizer 'NFKC' is not supported*")]
    [InlineData("pre_tokenizer", "{\"type\":\"Whitespace\"}", "*pre-tokenizer 'Whitespace' is not supported*")]
    [InlineData("decoder", "{\"type\":\"WordPiece\"}", "*decoder 'WordPiece' is not supported*")]
    public void Unsupported_pipelines_are_reported(string field, string value, string message)
    {
        var root = Bundled();
        root[field] = JsonNode.Parse(value);
        var act = () => BpeTokenizer.FromJson(Encoding.UTF8.GetBytes(root.ToJsonString()));
        act.Should().Throw<InvalidModelException>().WithMessage(message);
    }

    [Fact]
    public void A_different_split_pattern_is_refused()
    {
        var root = Bundled();
        root["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = "\\w+";
        var act = () => BpeTokenizer.FromJson(Encoding.UTF8.GetBytes(root.ToJsonString()));
        act.Should().Throw<InvalidModelException>().WithMessage("*Split pattern '\\w+' is not Qwen's*");
    }

    [Fact]
    public void A_merge_of_unknown_tokens_is_reported_with_its_index()
    {
        var root = Bundled();
        root["model"]!["merges"]!.AsArray().Insert(0, new JsonArray("nosuch", "token"));
        var act = () => BpeTokenizer.FromJson(Encoding.UTF8.GetBytes(root.ToJsonString()));
        act.Should().Throw<InvalidModelException>().WithMessage("*merge #0 'nosuch token'*");
    }

    [Fact]
    public void Old_style_string_merges_load_the_same()
    {
        var root = Bundled();
        var merges = root["model"]!["merges"]!.AsArray();
        var strings = new JsonArray(merges.Select(m => (JsonNode?)JsonValue.Create($"{m![0]} {m[1]}")).ToArray());
        root["model"]!["merges"] = strings;
        var tokenizer = BpeTokenizer.FromJson(Encoding.UTF8.GetBytes(root.ToJsonString()));
        foreach (var (text, ids) in ReferenceVectors.Corpus.Take(60)) tokenizer.Encode(text).Should().Equal(ids);
    }

    [Fact]
    public void An_added_token_with_lstrip_is_refused_rather_than_handled_wrongly()
    {
        var root = Bundled();
        root["added_tokens"]![0]!["lstrip"] = true;
        var act = () => BpeTokenizer.FromJson(Encoding.UTF8.GetBytes(root.ToJsonString()));
        act.Should().Throw<InvalidModelException>().WithMessage("*'<|endoftext|>' sets lstrip*");
    }

    private static JsonNode Bundled() => JsonNode.Parse(File.ReadAllText(BundledPath))!;
}
