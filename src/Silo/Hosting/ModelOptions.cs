namespace Qwen.Silo.Hosting;

/// <summary>Which model the silo serves (section "Model").</summary>
public sealed record ModelOptions
{
    public const string Section = "Model";

    /// <summary>A model directory (DESIGN model contract). Empty: the synthetic default, built on first run.</summary>
    public string? Path { get; init; }

    /// <summary>Preset and weight type of the synthetic default model.</summary>
    public string SyntheticPreset { get; init; } = "qwen1.5-0.5b";

    public string SyntheticWeights { get; init; } = "int8";

    /// <summary>Where the synthetic default is built (default ~/.cache/qwen-aio/models).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Intra-op threads of the model session; 0 = one per core.</summary>
    public int Threads { get; init; }

    /// <summary>Treat denormal floats as zero on every computing thread (off by default; docs/engine.md measures both).</summary>
    public bool FlushDenormals { get; init; }
}
