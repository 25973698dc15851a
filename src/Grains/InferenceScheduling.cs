namespace Qwen.Grains;

/// <summary>How the inference worker runs its model calls.</summary>
public enum InferenceScheduling
{
    /// <summary>Continuous batching: one model step for every active sequence; requests join and leave between steps.</summary>
    Batched,

    /// <summary>One request per model call, a few at once: the baseline batching is measured against.</summary>
    Sequential,
}
