using System.CommandLine;
using Qwen.Inference.Building;
using Qwen.Inference.Tokenization;

namespace Qwen.Cli.Commands;

/// <summary>The shared <c>--tokenizer FILE</c> option: a tokenizer.json or a model directory; Qwen's bundled one by default.</summary>
internal static class TokenizerOption
{
    public static Option<string?> Create() => new("--tokenizer")
    {
        Description = "tokenizer.json file or model directory (default: Qwen's tokenizer bundled with the tool)",
    };

    public static BpeTokenizer Load(string? path) =>
        BpeTokenizer.Load(path ?? Path.Combine(ModelDirectoryBuilder.BundledTokenizerDirectory, "tokenizer.json"));
}
