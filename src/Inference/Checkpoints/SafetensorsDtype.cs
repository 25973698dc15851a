namespace Qwen.Inference.Checkpoints;

/// <summary>The safetensors element types a Qwen2 checkpoint may use for its weights.</summary>
public enum SafetensorsDtype
{
    Float32,
    Float16,
    BFloat16,
}

internal static class SafetensorsDtypes
{
    /// <summary>Parses a header <c>dtype</c> string, or returns null for types the converter does not read.</summary>
    public static SafetensorsDtype? Parse(string name) => name switch
    {
        "F32" => SafetensorsDtype.Float32,
        "F16" => SafetensorsDtype.Float16,
        "BF16" => SafetensorsDtype.BFloat16,
        _ => null,
    };

    public static int ElementSize(this SafetensorsDtype dtype) => dtype == SafetensorsDtype.Float32 ? 4 : 2;

    public static string HeaderName(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.Float32 => "F32",
        SafetensorsDtype.Float16 => "F16",
        _ => "BF16",
    };
}
