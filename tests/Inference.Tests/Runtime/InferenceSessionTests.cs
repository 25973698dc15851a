using FluentAssertions;
using Qwen.Inference.Onnx.Proto;
using Qwen.Inference.Runtime;
using Xunit;
using static Qwen.Inference.Tests.Runtime.OnnxModels;

namespace Qwen.Inference.Tests.Runtime;

using DataType = TensorProto.Types.DataType;

public sealed class InferenceSessionTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly SessionOptions options = new();

    public void Dispose()
    {
        options.Dispose();
        dir.Dispose();
    }

    [Fact]
    public void Adds_two_float_tensors()
    {
        using var session = new InferenceSession(Add().Save(dir), options);
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2, 3, 4 }, [2, 2]);
        using OrtValue b = OrtValue.CreateTensor(new float[] { 10, 20, 30, 40 }, [2, 2]);

        OrtValue[] outputs = session.Run(["A", "B"], [a, b], ["C"]);

        using OrtValue c = outputs.Should().ContainSingle().Subject;
        c.ElementType.Should().Be(TensorElementType.Float);
        c.Shape.Should().Equal(2, 2);
        c.GetTensorSpan<float>().ToArray().Should().Equal(11, 22, 33, 44);
    }

    [Fact]
    public void Writes_an_output_into_a_tensor_the_caller_supplies()
    {
        using var session = new InferenceSession(Add().Save(dir), options);
        var memory = new float[4];
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2, 3, 4 }, [2, 2]);
        using OrtValue b = OrtValue.CreateTensor(new float[] { 10, 20, 30, 40 }, [2, 2]);
        using OrtValue c = OrtValue.CreateTensor(memory, [2, 2]);

        OrtValue[] outputs = session.Run(["A", "B"], [a, b], ["C"], [c]);

        outputs.Should().ContainSingle().Which.Should().BeSameAs(c, "the caller's tensor is the output, still the caller's to dispose");
        memory.Should().Equal(11, 22, 33, 44);
        // The same memory as input and output: ORT updates it in place.
        OrtValue[] again = session.Run(["A", "B"], [a, c], ["C"], [c]);
        again[0].Should().BeSameAs(c);
        memory.Should().Equal(12, 24, 36, 48);
    }

    [Fact]
    public void Describes_inputs_and_outputs()
    {
        ModelProto model = Model(
            [Node("Identity", ["ids"], ["ids_out"]), Node("Identity", ["mask"], ["mask_out"])],
            [Tensor("ids", DataType.Int64, "batch", "sequence"), Tensor("mask", DataType.Float16, 1, 4, "past")],
            [Tensor("ids_out", DataType.Int64, "batch", "sequence"), Tensor("mask_out", DataType.Float16, 1, 4, "past")]);

        using var session = new InferenceSession(model.Save(dir), options);

        session.Inputs.Should().HaveCount(2);
        NodeInfo ids = session.Inputs[0];
        ids.Name.Should().Be("ids");
        ids.ElementType.Should().Be(TensorElementType.Int64);
        ids.Shape.Should().Equal(-1, -1);
        ids.SymbolicDimensions.Should().Equal("batch", "sequence");

        NodeInfo mask = session.Inputs[1];
        mask.Name.Should().Be("mask");
        mask.ElementType.Should().Be(TensorElementType.Float16);
        mask.Shape.Should().Equal(1, 4, -1);
        mask.SymbolicDimensions.Should().Equal(null, null, "past");

        session.Outputs.Select(o => o.Name).Should().Equal("ids_out", "mask_out");
        session.Outputs[1].ElementType.Should().Be(TensorElementType.Float16);
        session.Outputs[1].Shape.Should().Equal(1, 4, -1);
    }

    [Fact]
    public void Passes_float16_int64_int32_and_bool_tensors()
    {
        ModelProto model = Model(
            [
                Node("Identity", ["h"], ["h_out"]),
                Node("Cast", ["h"], ["h_as_float"], Int("to", (long)DataType.Float)),
                Node("Cast", ["i64"], ["i64_as_i32"], Int("to", (long)DataType.Int32)),
                Node("Cast", ["i32"], ["i32_as_i64"], Int("to", (long)DataType.Int64)),
                Node("Not", ["b"], ["not_b"]),
                Node("Cast", ["b"], ["b_as_float"], Int("to", (long)DataType.Float)),
            ],
            [Tensor("h", DataType.Float16, 3), Tensor("i64", DataType.Int64, 3), Tensor("i32", DataType.Int32, 3), Tensor("b", DataType.Bool, 3)],
            [
                Tensor("h_out", DataType.Float16, 3), Tensor("h_as_float", DataType.Float, 3),
                Tensor("i64_as_i32", DataType.Int32, 3), Tensor("i32_as_i64", DataType.Int64, 3),
                Tensor("not_b", DataType.Bool, 3), Tensor("b_as_float", DataType.Float, 3),
            ]);
        using var session = new InferenceSession(model.Save(dir), options);
        using OrtValue h = OrtValue.CreateTensor(new[] { (Half)0.5f, (Half)(-2f), (Half)1024f }, [3]);
        using OrtValue i64 = OrtValue.CreateTensor(new long[] { -7, 0, 1L << 20 }, [3]);
        using OrtValue i32 = OrtValue.CreateTensor(new int[] { int.MinValue, 5, int.MaxValue }, [3]);
        using OrtValue b = OrtValue.CreateTensor(new[] { true, false, true }, [3]);

        OrtValue[] outputs = session.Run(["h", "i64", "i32", "b"], [h, i64, i32, b],
            ["h_out", "h_as_float", "i64_as_i32", "i32_as_i64", "not_b", "b_as_float"]);
        try
        {
            outputs[0].ElementType.Should().Be(TensorElementType.Float16);
            outputs[0].GetTensorSpan<Half>().ToArray().Should().Equal((Half)0.5f, (Half)(-2f), (Half)1024f);
            outputs[1].GetTensorSpan<float>().ToArray().Should().Equal(0.5f, -2f, 1024f);
            outputs[2].ElementType.Should().Be(TensorElementType.Int32);
            outputs[2].GetTensorSpan<int>().ToArray().Should().Equal(-7, 0, 1 << 20);
            outputs[3].ElementType.Should().Be(TensorElementType.Int64);
            outputs[3].GetTensorSpan<long>().ToArray().Should().Equal(int.MinValue, 5, int.MaxValue);
            outputs[4].ElementType.Should().Be(TensorElementType.Bool);
            outputs[4].GetTensorSpan<bool>().ToArray().Should().Equal(false, true, false);
            outputs[5].GetTensorSpan<float>().ToArray().Should().Equal(1f, 0f, 1f);
        }
        finally
        {
            foreach (OrtValue output in outputs) output.Dispose();
        }
    }

    [Fact]
    public void Loads_initializers_from_an_external_data_file()
    {
        float[] weights = [1, 2, 3, 4, 5, 6]; // W is [2, 3]
        byte[] side = new byte[16 + weights.Length * sizeof(float)];
        Buffer.BlockCopy(weights, 0, side, 16, weights.Length * sizeof(float)); // after 16 bytes of padding
        File.WriteAllBytes(dir.File("model.weights"), side);

        var w = new TensorProto { Name = "W", DataType = (int)DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        w.Dims.AddRange([2, 3]);
        w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "model.weights" });
        w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "16" });
        w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (weights.Length * sizeof(float)).ToString() });
        ModelProto model = Model(
            [Node("MatMul", ["X", "W"], ["Y"])],
            [Tensor("X", DataType.Float, 1, 2)],
            [Tensor("Y", DataType.Float, 1, 3)],
            [w]);

        using var session = new InferenceSession(model.Save(dir), options);
        using OrtValue x = OrtValue.CreateTensor(new float[] { 1, 10 }, [1, 2]);
        OrtValue[] outputs = session.Run(["X"], [x], ["Y"]);

        using OrtValue y = outputs[0];
        y.GetTensorSpan<float>().ToArray().Should().Equal(41, 52, 63);
    }

    [Fact]
    public void Zero_length_tensors_pass_through()
    {
        ModelProto model = Model(
            [Node("Concat", ["past", "current"], ["present"], Int("axis", 1)), Node("Identity", ["past"], ["past_out"])],
            [Tensor("past", DataType.Float, 1, "past_length", 4), Tensor("current", DataType.Float, 1, "length", 4)],
            [Tensor("present", DataType.Float, 1, "total_length", 4), Tensor("past_out", DataType.Float, 1, "past_length", 4)]);
        using var session = new InferenceSession(model.Save(dir), options);
        float[] current = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        using OrtValue past = OrtValue.CreateTensor(Array.Empty<float>(), [1, 0, 4]);
        using OrtValue now = OrtValue.CreateTensor(current, [1, 3, 4]);

        OrtValue[] outputs = session.Run(["past", "current"], [past, now], ["present", "past_out"]);

        using OrtValue present = outputs[0];
        using OrtValue pastOut = outputs[1];
        present.Shape.Should().Equal(1, 3, 4);
        present.GetTensorSpan<float>().ToArray().Should().Equal(current);
        pastOut.Shape.Should().Equal(1, 0, 4);
        pastOut.ElementCount.Should().Be(0);
        pastOut.GetTensorSpan<float>().Length.Should().Be(0);
    }

    [Fact]
    public void Runs_with_a_token_that_is_never_cancelled()
    {
        using var session = new InferenceSession(Add().Save(dir), options);
        using var cts = new CancellationTokenSource();
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2 }, [1, 2]);

        OrtValue[] outputs = session.Run(["A", "B"], [a, a], ["C"], cts.Token);

        using OrtValue c = outputs[0];
        c.GetTensorSpan<float>().ToArray().Should().Equal(2, 4);
    }

    [Fact]
    public void Dispose_twice_is_harmless_and_later_runs_throw()
    {
        var session = new InferenceSession(Add().Save(dir), options);
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2 }, [1, 2]);
        session.Dispose();
        session.Dispose();

        Action run = () => session.Run(["A", "B"], [a, a], ["C"]);
        run.Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void Runs_after_an_input_is_disposed_throw()
    {
        using var session = new InferenceSession(Add().Save(dir), options);
        OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2 }, [1, 2]);
        a.Dispose();

        Action run = () => session.Run(["A", "B"], [a, a], ["C"]);
        run.Should().Throw<ObjectDisposedException>();
    }
}
