using FluentAssertions;
using Microsoft.ML.OnnxRuntime;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;
using Qwen.Inference.Onnx.Proto;
using Qwen.Inference.Tests.Engine;
using Xunit;
using static Qwen.Inference.Tests.Engine.LogitMath;
using static Qwen.Inference.Tests.OnnxRuntime.OnnxModels;

namespace Qwen.Inference.Tests.OnnxRuntime;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Flushing denormals (DecoderSessionOptions.FlushDenormals): all or nothing across the threads that
/// compute a run, never the caller's own arithmetic, and the same greedy answers as gradual underflow.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class DenormalFlushTests(TinyModels models) : IDisposable
{
    // Large enough that ORT splits the product over every intra-op thread, the caller's share included.
    private const int Elements = 1 << 22;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Every_element_of_an_underflowing_product_is_flushed_or_none_is(bool flush)
    {
        float[] product = Multiply(flush, 1e-30f, 1e-10f);

        float expected = flush ? 0f : Volatile(1e-30f) * Volatile(1e-10f);
        expected.Should().Match(e => flush || float.IsSubnormal(e));
        product.Distinct().Should().Equal(expected);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Denormal_inputs_read_as_zero_on_every_thread_or_on_none(bool flush)
    {
        float[] product = Multiply(flush, 1e-40f, 1f);

        product.Distinct().Should().Equal(flush ? 0f : 1e-40f);
    }

    [Fact]
    public void Loading_and_running_a_flushing_session_leaves_the_callers_arithmetic_alone()
    {
        Multiply(flush: true, 1e-30f, 1e-10f);

        (Volatile(1e-30f) * Volatile(1e-10f)).Should().NotBe(0f, "this thread keeps gradual underflow");
        (Volatile(1e-40f) * Volatile(1f)).Should().Be(1e-40f);
    }

    [Fact]
    public void Flushing_is_deterministic_and_changes_no_greedy_token()
    {
        string path = models.PathOf("shared-buffer");
        using var flushing = DecoderSession.Open(path, new DecoderSessionOptions { FlushDenormals = true });
        using var gradual = DecoderSession.Open(path, new DecoderSessionOptions { FlushDenormals = false });

        for (int i = 0; i < 6; i++)
        {
            var prompt = RandomIds(700 + i, 4 + 7 * i);
            var options = GenerationOptions.Greedy(12);
            var fast = new Generator(flushing).Generate(prompt, options);
            new Generator(flushing).Generate(prompt, options).Tokens.Should().Equal(fast.Tokens, "flushing is deterministic");
            new Generator(gradual).Generate(prompt, options).Tokens.Should().Equal(fast.Tokens);
        }
    }

    /// <summary>X * S over <see cref="Elements"/> copies of <paramref name="x"/>, on four intra-op threads.</summary>
    private float[] Multiply(bool flush, float x, float s)
    {
        ModelProto model = Model(
            [Node("Mul", ["X", "S"], ["Y"])],
            [Tensor("X", DataType.Float, Elements), Tensor("S", DataType.Float, 1)],
            [Tensor("Y", DataType.Float, Elements)]);
        using var session = OrtSessionFactory.Create(model.Save(_dir), new DecoderSessionOptions { FlushDenormals = flush, IntraOpThreads = 4 });
        float[] product = new float[Elements];
        using var vx = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(x, Elements).ToArray(), [Elements]);
        using var vs = OrtValue.CreateTensorValueFromMemory(new[] { s }, [1]);
        using var vy = OrtValue.CreateTensorValueFromMemory(product, [Elements]);
        session.RunInto(["X", "S"], [vx, vs], ["Y"], [vy], CancellationToken.None);
        return product;
    }

    private static float Volatile(float value) => System.Threading.Volatile.Read(ref value);
}
