using System.Text.Json;
using Qwen.Inference.Building;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Tests.Tokenization;

/// <summary>The committed reference vectors (see reference/generate-vectors.mjs) and the bundled Qwen tokenizer.</summary>
public static class ReferenceVectors
{
    private static readonly Lazy<BpeTokenizer> LazyTokenizer = new(() =>
        BpeTokenizer.Load(Path.Combine(ModelDirectoryBuilder.BundledTokenizerDirectory, "tokenizer.json")));

    public static BpeTokenizer Tokenizer => LazyTokenizer.Value;

    public static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "Tokenization", "reference", file);

    public sealed record TokenizerVector(string Text, int[] Ids);

    public static IReadOnlyList<TokenizerVector> Corpus => LazyVectors.Value;

    private static readonly Lazy<IReadOnlyList<TokenizerVector>> LazyVectors = new(() =>
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(PathOf("tokenizer-vectors.json")));
        return document.RootElement.GetProperty("vectors").EnumerateArray()
            .Select(v => new TokenizerVector(v.GetProperty("text").GetString()!, v.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
            .ToArray();
    });

    public static IReadOnlyList<(string Input, string Nfc)> Nfc()
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(PathOf("nfc-vectors.json")));
        return document.RootElement.GetProperty("vectors").EnumerateArray()
            .Select(v => (v[0].GetString()!, v[1].GetString()!))
            .ToArray();
    }
}
