using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Qwen.Inference.Onnx.Proto;

namespace Qwen.Inference.Engine;

/// <summary>
/// Threads that treat denormal floats as zero, on which flushing sessions are run.
/// </summary>
/// <remarks>
/// ORT's <c>session.set_denormal_as_zero</c> covers the threads ORT creates, and, for the process's
/// first session only, the thread that creates it. The thread that calls Run computes a share of
/// every parallel operator, and flushing on some threads but not others would make a result
/// depend on which thread took which share. So the first session in the process is a one-node
/// flushing session created on a thread of ours; that thread starts the runner threads, which
/// inherit its floating-point mode (POSIX threads inherit the creator's floating-point environment).
/// Each thread checks by arithmetic that flushing holds; if not, <see cref="IsAvailable"/> is false
/// and sessions keep gradual underflow everywhere. No thread outside this class has its mode changed.
/// </remarks>
internal static class DenormalFlushThreads
{
    private static readonly Lazy<BlockingCollection<WorkItem>?> Queue = new(Start);

    /// <summary>Whether runs can flush denormals on every computing thread. Call before creating any session.</summary>
    public static bool IsAvailable => Queue.Value is not null;

    /// <summary>Runs <paramref name="work"/> on a flushing thread and waits for it.</summary>
    public static T Run<T>(Func<T> work)
    {
        var queue = Queue.Value ?? throw new InvalidOperationException("denormal flushing is not available in this process");
        using var item = new WorkItem(() => work());
        queue.Add(item);
        item.Done.Wait();
        item.Failure?.Throw();
        return (T)item.Result!;
    }

    private static BlockingCollection<WorkItem>? Start()
    {
        BlockingCollection<WorkItem>? queue = null;
        var origin = new Thread(() =>
        {
            if (!FirstSessionFlushes() || !Flushes()) return;
            var started = new BlockingCollection<WorkItem>();
            int runners = Math.Max(2, Environment.ProcessorCount);
            using var checkedIn = new CountdownEvent(runners);
            int failed = 0;
            for (int i = 0; i < runners; i++)
            {
                new Thread(() =>
                {
                    bool ok = Flushes();
                    if (!ok) Interlocked.Increment(ref failed);
                    checkedIn.Signal();
                    if (ok) Serve(started);
                }) { Name = $"ort-flush-runner-{i}", IsBackground = true }.Start();
            }
            checkedIn.Wait();
            if (failed == 0) queue = started;
            else started.CompleteAdding();
        }) { Name = "ort-flush-origin", IsBackground = true };
        origin.Start();
        origin.Join();
        return queue;
    }

    private static void Serve(BlockingCollection<WorkItem> queue)
    {
        foreach (var item in queue.GetConsumingEnumerable())
        {
            try
            {
                item.Result = item.Work();
            }
            catch (Exception e)
            {
                item.Failure = ExceptionDispatchInfo.Capture(e);
            }
            item.Done.Set();
        }
    }

    /// <summary>Creates a one-node flushing session, so that ORT puts this thread in flushing mode.</summary>
    private static bool FirstSessionFlushes()
    {
        try
        {
            using var options = new SessionOptions { IntraOpNumThreads = 1 };
            options.AddSessionConfigEntry("session.set_denormal_as_zero", "1");
            using var session = new InferenceSession(IdentityModel(), options);
            return true;
        }
        catch (OnnxRuntimeException)
        {
            return false;
        }
    }

    /// <summary>Whether this thread flushes denormal results and reads denormal inputs as zero.</summary>
    private static bool Flushes() => Multiply(1e-30f, 1e-10f) == 0f && Multiply(1e-40f, 1f) == 0f;

    private static float Multiply(float a, float b) => Volatile.Read(ref a) * Volatile.Read(ref b);

    private static byte[] IdentityModel()
    {
        static ValueInfoProto Scalar(string name) => new()
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
        };
        var graph = new GraphProto { Name = "denormal-mode" };
        graph.Node.Add(new NodeProto { OpType = "Identity", Input = { "x" }, Output = { "y" } });
        graph.Input.Add(Scalar("x"));
        graph.Output.Add(Scalar("y"));
        var model = new ModelProto { IrVersion = 10, ProducerName = "qwen-aio", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 21 });
        return model.ToByteArray();
    }

    private sealed class WorkItem(Func<object?> work) : IDisposable
    {
        public Func<object?> Work { get; } = work;
        public ManualResetEventSlim Done { get; } = new();
        public object? Result { get; set; }
        public ExceptionDispatchInfo? Failure { get; set; }

        public void Dispose() => Done.Dispose();
    }
}
