namespace Qwen.Inference;

/// <summary>A model directory, file or configuration that cannot be used, with the reason.</summary>
public sealed class InvalidModelException : Exception
{
    public InvalidModelException(string message) : base(message) { }
    public InvalidModelException(string message, Exception inner) : base(message, inner) { }
}
