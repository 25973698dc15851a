namespace Qwen.Inference.Batching;

/// <summary>Which waiting requests start first. Scoring (sentiment) is short, so it goes ahead of chat by default.</summary>
public enum RequestPriority
{
    High,
    Normal,
}
