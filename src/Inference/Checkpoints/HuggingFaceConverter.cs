using Qwen.Inference.Building;

namespace Qwen.Inference.Checkpoints;

/// <summary>
/// Converts a Hugging Face Qwen2-family checkpoint into a model directory: the same ONNX graph
/// the synthetic builder writes, filled with the checkpoint's weights, plus the checkpoint's
/// own config and tokenizer files.
/// </summary>
public static class HuggingFaceConverter
{
    /// <summary>Files taken over from the checkpoint when present; the rest keep the builder's defaults.</summary>
    public static IReadOnlyList<string> CompanionFileNames { get; } =
    [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json",
    ];

    public static ConversionResult Convert(string checkpointDirectory, string outputDirectory, ModelBuildOptions options,
        IProgress<double>? progress = null, CancellationToken cancellationToken = default)
    {
        using var checkpoint = HuggingFaceCheckpoint.Open(checkpointDirectory);
        string output = Path.GetFullPath(outputDirectory);
        if (string.Equals(output.TrimEnd(Path.DirectorySeparatorChar), checkpoint.Directory.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
            throw new ArgumentException($"the output directory must differ from the checkpoint directory '{checkpoint.Directory}' (its config.json and tokenizer files would be overwritten)");
        string[] companions = CompanionFileNames
            .Select(name => Path.Combine(checkpoint.Directory, name))
            .Where(File.Exists)
            .ToArray();
        ModelDirectoryBuilder.Build(output, checkpoint.Config, checkpoint, options, companions, progress, cancellationToken);
        return new ConversionResult(checkpoint.Config, checkpoint.WeightFiles,
            checkpoint.ParameterDtypes.Values.Distinct().Order().ToArray(),
            companions.Select(f => Path.GetFileName(f)).ToArray());
    }
}
