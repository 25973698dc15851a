using System.Globalization;
using System.Text.Json;
using Qwen.Inference.Models;

namespace Qwen.Inference.Tests.Golden;

/// <summary>One golden input sequence and what a correct Qwen2 forward pass must produce for it.</summary>
public sealed record GoldenCase(
    int[] InputIds,
    int[] ArgmaxPerPosition,
    IReadOnlyDictionary<int, float> LastLogits,
    double LastLogSumExp);

/// <summary>
/// The independently computed golden logits (tiny config, hash weights with seed 0), shared by every
/// test that checks an implementation of the Qwen2 math.
/// </summary>
public static class GoldenCases
{
    /// <summary>Probed logits and the log-sum-exp must match within this; argmaxes exactly.</summary>
    public const double Tolerance = 1e-3;

    public static string FilePath { get; } =
        Path.Combine(AppContext.BaseDirectory, "Golden", "qwen2-tiny-golden.json");

    /// <summary>The <c>config</c> object of the golden file, as Hugging Face config.json text.</summary>
    public static string ConfigJson { get; }

    public static QwenConfig Config { get; }

    public static IReadOnlyList<GoldenCase> All { get; }

    static GoldenCases()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(FilePath));
        JsonElement root = doc.RootElement;
        ConfigJson = root.GetProperty("config").GetRawText();
        Config = QwenConfig.Parse(ConfigJson);
        All = root.GetProperty("cases").EnumerateArray().Select(ParseCase).ToArray();
    }

    private static GoldenCase ParseCase(JsonElement c) => new(
        c.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
        c.GetProperty("argmax_per_position").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
        c.GetProperty("last_logits").EnumerateObject().ToDictionary(
            p => int.Parse(p.Name, CultureInfo.InvariantCulture),
            p => p.Value.GetSingle()),
        c.GetProperty("last_logsumexp").GetDouble());
}
