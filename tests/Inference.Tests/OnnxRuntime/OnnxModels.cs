using Google.Protobuf;
using Qwen.Inference.Onnx.Proto;

namespace Qwen.Inference.Tests.OnnxRuntime;

using DataType = TensorProto.Types.DataType;

/// <summary>Builds tiny ONNX models (IR 10, default opset 21) for exercising ONNX Runtime directly.</summary>
internal static class OnnxModels
{
    /// <summary>A tensor value description; each dim is a long (fixed) or a string (symbolic).</summary>
    public static ValueInfoProto Tensor(string name, DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                string param => new TensorShapeProto.Types.Dimension { DimParam = param },
                _ => new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(dim) },
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    public static NodeProto Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{string.Join("_", outputs)}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, I = value, Type = AttributeProto.Types.AttributeType.Int };

    public static TensorProto FloatInitializer(string name, long[] dims, float[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.FloatData.AddRange(values);
        return tensor;
    }

    public static ModelProto Model(IEnumerable<NodeProto> nodes, IEnumerable<ValueInfoProto> inputs,
        IEnumerable<ValueInfoProto> outputs, IEnumerable<TensorProto>? initializers = null)
    {
        var graph = new GraphProto { Name = "test" };
        graph.Node.AddRange(nodes);
        graph.Input.AddRange(inputs);
        graph.Output.AddRange(outputs);
        if (initializers is not null) graph.Initializer.AddRange(initializers);
        var model = new ModelProto { IrVersion = 10, ProducerName = "qwen-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 21 });
        return model;
    }

    public static string Save(this ModelProto model, TempDirectory dir, string fileName = "model.onnx")
    {
        string path = dir.File(fileName);
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    /// <summary>C = A + B over float tensors of shape [batch, 2].</summary>
    public static ModelProto Add() => Model(
        [Node("Add", ["A", "B"], ["C"])],
        [Tensor("A", DataType.Float, "batch", 2), Tensor("B", DataType.Float, "batch", 2)],
        [Tensor("C", DataType.Float, "batch", 2)]);
}
