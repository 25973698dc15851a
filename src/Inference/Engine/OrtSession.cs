using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Engine;

/// <summary>
/// An ONNX Runtime session and where its runs execute: a session that flushes denormals runs on
/// <see cref="DenormalFlushThreads"/>, so every thread that computes flushes; any other runs on the
/// calling thread. Runs are cancellable (<see cref="CancellableRun"/>).
/// </summary>
internal sealed class OrtSession(InferenceSession session, bool flushesDenormals) : IDisposable
{
    public InferenceSession Session { get; } = session;

    /// <summary>Whether runs treat denormal floats as zero on every thread that computes.</summary>
    public bool FlushesDenormals { get; } = flushesDenormals;

    /// <inheritdoc cref="CancellableRun.Run"/>
    public IDisposableReadOnlyCollection<OrtValue> Run(IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs,
        IReadOnlyCollection<string> outputNames, CancellationToken cancellationToken) =>
        OnItsThread(() => CancellableRun.Run(Session, inputNames, inputs, outputNames, cancellationToken));

    /// <inheritdoc cref="CancellableRun.RunInto"/>
    public void RunInto(IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs,
        IReadOnlyCollection<string> outputNames, IReadOnlyCollection<OrtValue> outputs, CancellationToken cancellationToken) =>
        OnItsThread(() =>
        {
            CancellableRun.RunInto(Session, inputNames, inputs, outputNames, outputs, cancellationToken);
            return true;
        });

    public void Dispose() => Session.Dispose();

    private T OnItsThread<T>(Func<T> run) => FlushesDenormals ? DenormalFlushThreads.Run(run) : run();
}
