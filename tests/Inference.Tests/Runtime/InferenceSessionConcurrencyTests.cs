using System.Diagnostics;
using FluentAssertions;
using Qwen.Inference.Onnx.Proto;
using Qwen.Inference.Runtime;
using Xunit;
using static Qwen.Inference.Tests.Runtime.OnnxModels;

namespace Qwen.Inference.Tests.Runtime;

using DataType = TensorProto.Types.DataType;

public sealed class InferenceSessionConcurrencyTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Many_threads_can_run_one_session_at_once()
    {
        const int threads = 8;
        const int runsPerThread = 50;
        using var options = new SessionOptions { IntraOpThreads = 1 };
        using var session = new InferenceSession(Add().Save(dir), options);
        using var start = new Barrier(threads);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();

        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                for (int i = 0; i < runsPerThread; i++)
                {
                    float[] a = [t, i, t * 100 + i, -t, -i, 0.5f];
                    float[] b = [1000, 2000, 3000, 4000, 5000, 6000];
                    using OrtValue va = OrtValue.CreateTensor(a, [3, 2]);
                    using OrtValue vb = OrtValue.CreateTensor(b, [3, 2]);
                    OrtValue[] outputs = session.Run(["A", "B"], [va, vb], ["C"]);
                    using OrtValue c = outputs[0];
                    float[] expected = a.Zip(b, (x, y) => x + y).ToArray();
                    if (!c.GetTensorSpan<float>().SequenceEqual(expected))
                        failures.Add($"thread {t} run {i}: [{string.Join(", ", c.GetTensorSpan<float>().ToArray())}]");
                }
            }
            catch (Exception e)
            {
                failures.Add($"thread {t}: {e}");
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        failures.Should().BeEmpty();
    }

    [Fact]
    public void A_pre_cancelled_token_throws_OperationCanceledException()
    {
        using var options = new SessionOptions();
        using var session = new InferenceSession(Add().Save(dir), options);
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2 }, [1, 2]);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Action run = () => session.Run(["A", "B"], [a, a], ["C"], cts.Token);

        run.Should().Throw<OperationCanceledException>().Which.CancellationToken.Should().Be(cts.Token);
    }

    [Fact]
    public async Task Cancelling_a_long_run_stops_it()
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
        using var options = new SessionOptions { IntraOpThreads = 1 };
        using var session = new InferenceSession(model.Save(dir), options);
        using OrtValue x = OrtValue.CreateTensor(new float[size * size], [size, size]);
        using var cts = new CancellationTokenSource();

        var clock = Stopwatch.StartNew();
        Task<OrtValue[]> running = Task.Run(() => session.Run(["X"], [x], ["Y"], cts.Token));
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
