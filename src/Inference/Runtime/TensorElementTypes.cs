namespace Qwen.Inference.Runtime;

/// <summary>Maps the managed element types that tensors can wrap to ORT element types.</summary>
internal static class TensorElementTypes
{
    /// <summary>The element type for <typeparamref name="T"/>, or null if tensors of it are not supported.</summary>
    internal static TensorElementType? TryOf<T>() where T : unmanaged
    {
        // typeof comparisons on value types fold to constants in the JIT.
        if (typeof(T) == typeof(float)) return TensorElementType.Float;
        if (typeof(T) == typeof(Half)) return TensorElementType.Float16;
        if (typeof(T) == typeof(long)) return TensorElementType.Int64;
        if (typeof(T) == typeof(int)) return TensorElementType.Int32;
        if (typeof(T) == typeof(bool)) return TensorElementType.Bool;
        if (typeof(T) == typeof(byte)) return TensorElementType.UInt8;
        if (typeof(T) == typeof(sbyte)) return TensorElementType.Int8;
        if (typeof(T) == typeof(double)) return TensorElementType.Double;
        if (typeof(T) == typeof(short)) return TensorElementType.Int16;
        if (typeof(T) == typeof(ushort)) return TensorElementType.UInt16;
        if (typeof(T) == typeof(uint)) return TensorElementType.UInt32;
        if (typeof(T) == typeof(ulong)) return TensorElementType.UInt64;
        return null;
    }

    internal static TensorElementType Of<T>() where T : unmanaged =>
        TryOf<T>() ?? throw new NotSupportedException($"Tensors of {typeof(T).Name} are not supported.");
}
