using System.Runtime.InteropServices;
using Google.Protobuf;
using Qwen.Inference.Onnx.Proto;
using DataType = Qwen.Inference.Onnx.Proto.TensorProto.Types.DataType;

namespace Qwen.Inference.Onnx;

/// <summary>
/// A small imperative builder for one ONNX graph: add inputs, initializers and nodes by
/// name, then save. Large initializers go to an external data file next to the model.
/// </summary>
internal sealed class OnnxGraphWriter : IDisposable
{
    /// <summary>Initializers at least this large are stored in the external data file.</summary>
    private const int ExternalThresholdBytes = 1024;

    private readonly GraphProto _graph = new() { Name = "main" };
    private readonly Dictionary<string, long> _opsets = new() { [""] = 23 };
    private readonly ExternalDataFile? _external;
    private readonly Dictionary<string, int> _nameCounts = [];
    private readonly Dictionary<string, string> _constants = [];

    /// <param name="externalDataPath">Side file for large initializers, or null to keep everything inline.</param>
    public OnnxGraphWriter(string? externalDataPath)
    {
        if (externalDataPath is not null) _external = new ExternalDataFile(externalDataPath);
    }

    public void UseOpset(string domain, long version) => _opsets[domain] = version;

    /// <summary>A fresh value name with the given prefix.</summary>
    public string Fresh(string prefix)
    {
        _nameCounts.TryGetValue(prefix, out int n);
        _nameCounts[prefix] = n + 1;
        return n == 0 ? prefix : $"{prefix}_{n}";
    }

    public void Input(string name, DataType type, params object[] dims) => _graph.Input.Add(ValueInfo(name, type, dims));

    public void Output(string name, DataType type, params object[] dims) => _graph.Output.Add(ValueInfo(name, type, dims));

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, IEnumerable<string> inputs, string? output = null, string domain = "",
        IReadOnlyDictionary<string, object>? attributes = null)
    {
        output ??= Fresh(opType.ToLowerInvariant());
        NodeMulti(opType, inputs, [output], domain, attributes);
        return output;
    }

    /// <summary>Adds a node with several outputs (empty names skip optional outputs).</summary>
    public void NodeMulti(string opType, IEnumerable<string> inputs, IEnumerable<string> outputs, string domain = "",
        IReadOnlyDictionary<string, object>? attributes = null)
    {
        var node = new NodeProto { OpType = opType, Domain = domain, Name = Fresh("n_" + opType) };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        if (attributes is not null)
        {
            foreach (var (key, value) in attributes) node.Attribute.Add(Attribute(key, value));
        }
        _graph.Node.Add(node);
    }

    public string Initializer<T>(string name, ReadOnlySpan<T> values, ReadOnlySpan<long> dims) where T : unmanaged
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataTypeOf<T>() };
        foreach (long d in dims) tensor.Dims.Add(d);
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(values);
        if (_external is not null && bytes.Length >= ExternalThresholdBytes) _external.Append(tensor, bytes);
        else tensor.RawData = ByteString.CopyFrom(bytes);
        _graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>A constant tensor, shared between all uses of the same value.</summary>
    public string Constant<T>(ReadOnlySpan<T> values, params long[] dims) where T : unmanaged
    {
        string key = $"{typeof(T).Name}:{string.Join(',', dims)}:{Convert.ToHexString(MemoryMarshal.AsBytes(values))}";
        if (!_constants.TryGetValue(key, out string? name))
        {
            name = Initializer(Fresh("const"), values, dims);
            _constants[key] = name;
        }
        return name;
    }

    public string Scalar(float value) => Constant<float>([value]);
    public string Scalar(long value) => Constant<long>([value]);
    public string Vector(params long[] values) => Constant<long>(values, values.Length);

    public void Save(string modelPath, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var model = new ModelProto
        {
            IrVersion = 11,
            ProducerName = "qwen-aio",
            ProducerVersion = typeof(OnnxGraphWriter).Assembly.GetName().Version?.ToString() ?? "0",
            Graph = _graph,
        };
        foreach (var (domain, version) in _opsets) model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        if (metadata is not null)
        {
            foreach (var (k, v) in metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        }
        _external?.Dispose();
        using var file = File.Create(modelPath);
        model.WriteTo(file);
    }

    public void Dispose() => _external?.Dispose();

    private static ValueInfoProto ValueInfo(string name, DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object d in dims)
        {
            shape.Dim.Add(d switch
            {
                string p => new TensorShapeProto.Types.Dimension { DimParam = p },
                int v => new TensorShapeProto.Types.Dimension { DimValue = v },
                long v => new TensorShapeProto.Types.Dimension { DimValue = v },
                _ => throw new ArgumentException($"dimension {d} must be a string or an integer"),
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static AttributeProto Attribute(string name, object value) => value switch
    {
        long i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
        int i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
        float f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = f },
        double f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)f },
        string s => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(s) },
        long[] ints => IntsAttribute(name, ints),
        _ => throw new ArgumentException($"unsupported attribute type {value.GetType()} for '{name}'"),
    };

    private static AttributeProto IntsAttribute(string name, long[] ints)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(ints);
        return a;
    }

    internal static DataType DataTypeOf<T>() where T : unmanaged => default(T) switch
    {
        float => DataType.Float,
        Half => DataType.Float16,
        long => DataType.Int64,
        int => DataType.Int32,
        sbyte => DataType.Int8,
        byte => DataType.Uint8,
        bool => DataType.Bool,
        _ => throw new NotSupportedException($"no ONNX data type for {typeof(T)}"),
    };
}
