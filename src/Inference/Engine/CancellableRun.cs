using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Engine;

/// <summary>
/// One <see cref="InferenceSession"/> run that a <see cref="CancellationToken"/> can stop between
/// operators: cancelling sets <see cref="RunOptions.Terminate"/> on the run's own options, and
/// ORT's "exiting due to terminate flag" error surfaces as <see cref="OperationCanceledException"/>.
/// </summary>
internal static class CancellableRun
{
    // Never terminated, so one instance serves every run that cannot be cancelled.
    private static readonly RunOptions Uncancellable = new();

    /// <summary>Runs the model; ORT allocates the outputs, which the caller disposes.</summary>
    public static IDisposableReadOnlyCollection<OrtValue> Run(InferenceSession session, IReadOnlyCollection<string> inputNames,
        IReadOnlyCollection<OrtValue> inputs, IReadOnlyCollection<string> outputNames, CancellationToken cancellationToken) =>
        Guard(cancellationToken, options => session.Run(options, inputNames, inputs, outputNames));

    /// <summary>
    /// Runs the model with every output written into the tensor the caller supplies (each must have the
    /// shape the model produces). A tensor may be both an input and an output: that is how an operator
    /// that updates a buffer in place (GroupQueryAttention's shared KV) is fed.
    /// </summary>
    public static void RunInto(InferenceSession session, IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs,
        IReadOnlyCollection<string> outputNames, IReadOnlyCollection<OrtValue> outputs, CancellationToken cancellationToken) =>
        Guard(cancellationToken, options =>
        {
            session.Run(options, inputNames, inputs, outputNames, outputs);
            return 0;
        });

    private static T Guard<T>(CancellationToken cancellationToken, Func<RunOptions, T> run)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!cancellationToken.CanBeCanceled) return run(Uncancellable);

        using var options = new RunOptions();
        // Disposed before the options: disposing waits for a running callback, which must not
        // touch options already released.
        using (cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, options))
        {
            try
            {
                return run(options);
            }
            catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
    }
}
