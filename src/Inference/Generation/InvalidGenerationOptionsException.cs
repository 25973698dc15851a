namespace Qwen.Inference.Generation;

/// <summary>A <see cref="GenerationOptions"/> value outside its allowed range; the message names the option and the range.</summary>
public sealed class InvalidGenerationOptionsException : ArgumentException
{
    public InvalidGenerationOptionsException(string message, string optionName) : base(message, optionName) { }
}
