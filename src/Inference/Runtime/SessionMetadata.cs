namespace Qwen.Inference.Runtime;

/// <summary>Reads a session's input and output descriptions from ORT.</summary>
internal static class SessionMetadata
{
    internal static NodeInfo[] ReadInputs(nint session)
    {
        var nodes = new NodeInfo[OrtApi.SessionGetInputCount(session)];
        for (int i = 0; i < nodes.Length; i++)
            nodes[i] = Read(OrtApi.SessionGetInputName(session, i), OrtApi.SessionGetInputTypeInfo(session, i));
        return nodes;
    }

    internal static NodeInfo[] ReadOutputs(nint session)
    {
        var nodes = new NodeInfo[OrtApi.SessionGetOutputCount(session)];
        for (int i = 0; i < nodes.Length; i++)
            nodes[i] = Read(OrtApi.SessionGetOutputName(session, i), OrtApi.SessionGetOutputTypeInfo(session, i));
        return nodes;
    }

    /// <summary>Describes one node from its type info, which this releases.</summary>
    private static NodeInfo Read(string name, nint typeInfo)
    {
        try
        {
            if (!OrtApi.IsTensorType(typeInfo))
                throw new NotSupportedException($"Model input or output '{name}' is not a tensor; only tensors are supported.");
            nint tensorInfo = OrtApi.CastTypeInfoToTensorInfo(typeInfo);
            return new NodeInfo(name, OrtApi.GetTensorElementType(tensorInfo),
                OrtApi.GetDimensions(tensorInfo), OrtApi.GetSymbolicDimensions(tensorInfo));
        }
        finally
        {
            OrtApi.ReleaseTypeInfo(typeInfo);
        }
    }
}
