namespace Qwen.Inference.Batching;

/// <summary>A request's deadline passed before it finished; it left the batch and freed its slot.</summary>
public sealed class RequestDeadlineExceededException : TimeoutException
{
    public RequestDeadlineExceededException(string message) : base(message) { }
}
