using FluentAssertions;
using Qwen.Inference.Runtime;
using Xunit;
using static Qwen.Inference.Tests.Runtime.OnnxModels;

namespace Qwen.Inference.Tests.Runtime;

public sealed class InferenceSessionErrorTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly SessionOptions options = new();

    public void Dispose()
    {
        options.Dispose();
        dir.Dispose();
    }

    [Fact]
    public void A_garbage_model_file_gives_an_OrtException()
    {
        string path = dir.File("garbage.onnx");
        var random = new Random(1234);
        byte[] bytes = new byte[4096];
        random.NextBytes(bytes);
        File.WriteAllBytes(path, bytes);

        Action load = () => new InferenceSession(path, options).Dispose();

        load.Should().Throw<OrtException>().Which.Message.Should().NotBeNullOrWhiteSpace();
    }

    [Fact]
    public void A_model_with_an_unknown_operator_gives_an_OrtException()
    {
        string path = Model([Node("NoSuchOperator", ["A"], ["C"])],
            [Tensor("A", Onnx.Proto.TensorProto.Types.DataType.Float, 2)],
            [Tensor("C", Onnx.Proto.TensorProto.Types.DataType.Float, 2)]).Save(dir);

        Action load = () => new InferenceSession(path, options).Dispose();

        load.Should().Throw<OrtException>().WithMessage("*NoSuchOperator*");
    }

    [Fact]
    public void A_missing_model_file_names_the_path()
    {
        string path = dir.File("missing.onnx");
        Action load = () => new InferenceSession(path, options).Dispose();
        load.Should().Throw<FileNotFoundException>().WithMessage($"*{path}*");
    }

    [Fact]
    public void A_wrong_input_name_gives_ORTs_message()
    {
        using var session = new InferenceSession(Add().Save(dir), options);
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2 }, [1, 2]);

        Action run = () => session.Run(["A", "not_an_input"], [a, a], ["C"]);

        run.Should().Throw<OrtException>().Where(e => e.ErrorCode == 2).WithMessage("*not_an_input*");
    }

    [Fact]
    public void A_wrong_output_name_gives_an_OrtException()
    {
        using var session = new InferenceSession(Add().Save(dir), options);
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2 }, [1, 2]);

        Action run = () => session.Run(["A", "B"], [a, a], ["not_an_output"]);

        run.Should().Throw<OrtException>().WithMessage("*not_an_output*");
    }

    [Fact]
    public void A_wrong_element_type_gives_ORTs_message()
    {
        using var session = new InferenceSession(Add().Save(dir), options);
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2 }, [1, 2]);
        using OrtValue b = OrtValue.CreateTensor(new int[] { 1, 2 }, [1, 2]);

        Action run = () => session.Run(["A", "B"], [a, b], ["C"]);

        run.Should().Throw<OrtException>().Where(e => e.ErrorCode == 2).WithMessage("*int32*");
    }

    [Fact]
    public void A_wrong_fixed_dimension_gives_an_OrtException()
    {
        using var session = new InferenceSession(Add().Save(dir), options);
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2, 3 }, [1, 3]);

        Action run = () => session.Run(["A", "B"], [a, a], ["C"]);

        run.Should().Throw<OrtException>().Where(e => e.ErrorCode == 2);
    }

    [Fact]
    public void Mismatched_name_and_value_counts_are_rejected()
    {
        using var session = new InferenceSession(Add().Save(dir), options);
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2 }, [1, 2]);

        Action run = () => session.Run(["A", "B"], [a], ["C"]);

        run.Should().Throw<ArgumentException>();
    }
}
