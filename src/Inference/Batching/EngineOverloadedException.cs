namespace Qwen.Inference.Batching;

/// <summary>
/// The engine refused a request because its queue is full: retry later or elsewhere (an HTTP
/// front end answers 429). Thrown at submission, before any model work.
/// </summary>
public sealed class EngineOverloadedException : Exception
{
    public EngineOverloadedException(string message) : base(message) { }
}
