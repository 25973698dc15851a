using FluentAssertions;
using Qwen.Inference.Runtime;
using Xunit;

namespace Qwen.Inference.Tests.Runtime;

public sealed class OrtValueTests
{
    [Fact]
    public void Wraps_managed_memory_without_copying()
    {
        float[] data = [1, 2, 3, 4, 5, 6];
        using OrtValue value = OrtValue.CreateTensor(data, [2, 3]);

        value.ElementType.Should().Be(TensorElementType.Float);
        value.Shape.Should().Equal(2, 3);
        value.ElementCount.Should().Be(6);

        Span<float> span = value.GetTensorSpan<float>();
        span.ToArray().Should().Equal(data);
        span[1] = 20;
        data[1].Should().Be(20);
        data[2] = 30;
        value.GetTensorSpan<float>()[2].Should().Be(30);
    }

    [Fact]
    public void Wraps_a_slice_of_memory()
    {
        long[] data = [9, 9, 1, 2, 3, 9];
        using OrtValue value = OrtValue.CreateTensor(data.AsMemory(2, 3), [3]);
        value.GetTensorSpan<long>().ToArray().Should().Equal(1, 2, 3);
    }

    [Fact]
    public void Maps_each_supported_element_type()
    {
        Check(new Half[] { (Half)1.5f }, TensorElementType.Float16);
        Check(new long[] { 1 }, TensorElementType.Int64);
        Check(new int[] { 1 }, TensorElementType.Int32);
        Check(new bool[] { true }, TensorElementType.Bool);
        Check(new byte[] { 1 }, TensorElementType.UInt8);
        Check(new sbyte[] { -1 }, TensorElementType.Int8);
        Check(new double[] { 1 }, TensorElementType.Double);

        static void Check<T>(T[] data, TensorElementType expected) where T : unmanaged
        {
            using OrtValue value = OrtValue.CreateTensor(data, [1]);
            value.ElementType.Should().Be(expected);
            value.GetTensorSpan<T>()[0].Should().Be(data[0]);
        }
    }

    [Fact]
    public void Zero_length_dimensions_are_allowed()
    {
        using OrtValue value = OrtValue.CreateTensor(Array.Empty<float>(), [1, 2, 0, 8]);

        value.Shape.Should().Equal(1, 2, 0, 8);
        value.ElementCount.Should().Be(0);
        value.GetTensorSpan<float>().Length.Should().Be(0);
    }

    [Fact]
    public void A_scalar_has_an_empty_shape()
    {
        using OrtValue value = OrtValue.CreateTensor(new long[] { 42 }, []);
        value.Shape.Should().BeEmpty();
        value.ElementCount.Should().Be(1);
        value.GetTensorSpan<long>()[0].Should().Be(42);
    }

    [Fact]
    public void Shape_must_match_the_data_length()
    {
        Action tooFew = () => OrtValue.CreateTensor(new float[5], [2, 3]);
        Action negative = () => OrtValue.CreateTensor(new float[6], [-2, -3]);

        tooFew.Should().Throw<ArgumentException>().WithMessage("*6 elements*5*");
        negative.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Unsupported_element_types_are_rejected()
    {
        Action act = () => OrtValue.CreateTensor(new char[1], [1]);
        act.Should().Throw<NotSupportedException>();
    }

    [Fact]
    public void Reading_as_the_wrong_type_throws()
    {
        using OrtValue value = OrtValue.CreateTensor(new int[] { 1, 2 }, [2]);
        Action asFloat = () => value.GetTensorSpan<float>();
        Action asLong = () => value.GetTensorSpan<long>();
        asFloat.Should().Throw<InvalidOperationException>().WithMessage("*Int32*");
        asLong.Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void Dispose_twice_is_harmless_and_later_use_throws()
    {
        OrtValue value = OrtValue.CreateTensor(new float[] { 1 }, [1]);
        value.Dispose();
        value.Dispose();

        Action read = () => value.GetTensorSpan<float>();
        read.Should().Throw<ObjectDisposedException>();
    }
}
