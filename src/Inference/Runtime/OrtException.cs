namespace Qwen.Inference.Runtime;

/// <summary>An error reported by ONNX Runtime through a non-null <c>OrtStatus</c>.</summary>
public sealed class OrtException : Exception
{
    public OrtException(int errorCode, string message) : base(message)
    {
        ErrorCode = errorCode;
    }

    /// <summary>ORT's <c>OrtErrorCode</c>, e.g. 1 fail, 2 invalid argument, 3 no such file,
    /// 6 runtime exception, 7 invalid protobuf, 9 not implemented, 10 invalid graph.</summary>
    public int ErrorCode { get; }
}
