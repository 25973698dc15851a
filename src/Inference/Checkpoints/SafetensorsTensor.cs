namespace Qwen.Inference.Checkpoints;

/// <summary>
/// One tensor entry of a safetensors header: element type (as written), shape and its byte
/// range relative to the start of the data section (just after the header).
/// </summary>
public sealed record SafetensorsTensor(string Name, string DtypeName, long[] Shape, long Begin, long End)
{
    /// <summary>The element type, or null when it is one the converter does not read (I8, F64, ...).</summary>
    public SafetensorsDtype? Dtype => SafetensorsDtypes.Parse(DtypeName);

    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);

    public string ShapeText => $"[{string.Join(", ", Shape)}]";
}
