using System.Diagnostics;
using FluentAssertions;
using Microsoft.ML.OnnxRuntime;
using Qwen.Inference.Engine;
using Qwen.Inference.Onnx.Proto;
using Xunit;
using static Qwen.Inference.Tests.OnnxRuntime.OnnxModels;

namespace Qwen.Inference.Tests.OnnxRuntime;

using DataType = TensorProto.Types.DataType;

/// <summary>The seam over ORT's Run: outputs into caller-owned tensors, cancellation through RunOptions.Terminate.</summary>
public sealed class CancellableRunTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Outputs_are_written_into_the_tensors_the_caller_supplies(bool flushDenormals)
    {
        using var session = OrtSessionFactory.Create(Add().Save(_dir), new DecoderSessionOptions { FlushDenormals = flushDenormals });
        float[] a = [1, 2, 3, 4];
        float[] b = [10, 20, 30, 40];
        float[] c = new float[4];
        using var va = OrtValue.CreateTensorValueFromMemory(a, [2, 2]);
        using var vb = OrtValue.CreateTensorValueFromMemory(b, [2, 2]);
        using var vc = OrtValue.CreateTensorValueFromMemory(c, [2, 2]);

        session.RunInto(["A", "B"], [va, vb], ["C"], [vc], CancellationToken.None);

        c.Should().Equal(11, 22, 33, 44);
    }

    [Fact]
    public void A_tensor_can_be_both_an_input_and_the_output_it_is_updated_into()
    {
        using var session = OrtSessionFactory.Create(Add().Save(_dir), new DecoderSessionOptions());
        float[] a = [1, 2, 3, 4];
        using var va = OrtValue.CreateTensorValueFromMemory(a, [2, 2]);
        using var vb = OrtValue.CreateTensorValueFromMemory(new float[] { 10, 20, 30, 40 }, [2, 2]);
        using var cts = new CancellationTokenSource();

        session.RunInto(["A", "B"], [va, vb], ["C"], [va], cts.Token);

        a.Should().Equal(11, 22, 33, 44);
    }

    [Fact]
    public void ORT_allocates_the_outputs_when_none_are_supplied()
    {
        using var session = OrtSessionFactory.Create(Add().Save(_dir), new DecoderSessionOptions());
        using var va = OrtValue.CreateTensorValueFromMemory(new float[] { 1, 2 }, [1, 2]);

        using var outputs = session.Run(["A", "B"], [va, va], ["C"], CancellationToken.None);

        outputs.Single().GetTensorDataAsSpan<float>().ToArray().Should().Equal(2, 4);
    }

    [Fact]
    public void A_pre_cancelled_token_throws_OperationCanceledException()
    {
        using var session = OrtSessionFactory.Create(Add().Save(_dir), new DecoderSessionOptions());
        using var a = OrtValue.CreateTensorValueFromMemory(new float[] { 1, 2 }, [1, 2]);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Action run = () => session.Run(["A", "B"], [a, a], ["C"], cts.Token).Dispose();

        run.Should().Throw<OperationCanceledException>().Which.CancellationToken.Should().Be(cts.Token);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Cancelling_a_long_run_stops_it(bool flushDenormals)
    {
        // 4000 chained 512x512 matrix products: several seconds of work on one thread unless stopped.
        const int size = 512;
        const int layers = 4000;
        float[] weights = Enumerable.Repeat(1f / size, size * size).ToArray();
        var nodes = Enumerable.Range(0, layers).Select(i =>
            Node("MatMul", [i == 0 ? "X" : $"h{i}", "W"], [i == layers - 1 ? "Y" : $"h{i + 1}"]));
        ModelProto model = Model(nodes,
            [Tensor("X", DataType.Float, size, size)],
            [Tensor("Y", DataType.Float, size, size)],
            [FloatInitializer("W", [size, size], weights)]);
        using var session = OrtSessionFactory.Create(model.Save(_dir),
            new DecoderSessionOptions { IntraOpThreads = 1, FlushDenormals = flushDenormals });
        using var x = OrtValue.CreateTensorValueFromMemory(new float[size * size], [size, size]);
        using var cts = new CancellationTokenSource();

        var clock = Stopwatch.StartNew();
        Task running = Task.Run(() => session.Run(["X"], [x], ["Y"], cts.Token).Dispose());
        // A dedicated thread cancels, so a thread pool busy with other tests cannot delay it.
        var canceller = new Thread(() =>
        {
            Thread.Sleep(300);
            cts.Cancel();
        });
        canceller.Start();
        Func<Task> wait = () => running;

        (await wait.Should().ThrowAsync<OperationCanceledException>()).Which.CancellationToken.Should().Be(cts.Token);
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(60));
        canceller.Join();
    }
}
