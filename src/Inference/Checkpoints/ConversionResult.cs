using Qwen.Inference.Models;

namespace Qwen.Inference.Checkpoints;

/// <summary>What a conversion wrote: facts about the source checkpoint and the companion files taken from it.</summary>
/// <param name="Config">The checkpoint's model shape.</param>
/// <param name="WeightFiles">The safetensors files the weights came from.</param>
/// <param name="StoredDtypes">The element types the weights were stored in.</param>
/// <param name="CopiedFiles">Config and tokenizer files copied from the checkpoint.</param>
public sealed record ConversionResult(
    QwenConfig Config, IReadOnlyList<string> WeightFiles, IReadOnlyList<SafetensorsDtype> StoredDtypes, IReadOnlyList<string> CopiedFiles);
