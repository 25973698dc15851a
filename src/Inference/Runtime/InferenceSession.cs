using System.Collections.ObjectModel;

namespace Qwen.Inference.Runtime;

/// <summary>
/// A loaded ONNX model on ORT's CPU execution provider. <see cref="Run"/> may be called from
/// many threads at once, as ORT allows.
/// </summary>
public sealed class InferenceSession : IDisposable
{
    private readonly SessionHandle handle;
    // Null-terminated UTF-8 copies of the model's input and output names, on the pinned heap so
    // Run can pass their addresses without marshalling; read-only after construction.
    private readonly Dictionary<string, byte[]> nativeNames = new(StringComparer.Ordinal);

    /// <summary>
    /// Loads the model at <paramref name="modelPath"/>. ORT resolves external data files
    /// relative to the model's directory.
    /// </summary>
    public InferenceSession(string modelPath, SessionOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentNullException.ThrowIfNull(options);
        string fullPath = Path.GetFullPath(modelPath);
        if (!File.Exists(fullPath))
            throw new FileNotFoundException($"ONNX model not found at {fullPath}", fullPath);

        nint env = OrtEnvironment.Handle;
        FlushesDenormals = options.FlushDenormals;
        // ORT sets the denormal mode of the thread that creates the process's first session for
        // good; this thread is not ours to change, so its mode is put back.
        uint creatorMode = DenormalMode.Read();
        try
        {
            using (OrtHandle.Lease nativeOptions = options.Acquire())
                handle = new SessionHandle(OrtApi.CreateSession(env, fullPath, nativeOptions.Pointer));
        }
        finally
        {
            DenormalMode.Restore(creatorMode);
        }

        try
        {
            NodeInfo[] inputs = SessionMetadata.ReadInputs(handle.DangerousGetHandle());
            NodeInfo[] outputs = SessionMetadata.ReadOutputs(handle.DangerousGetHandle());
            Inputs = new ReadOnlyCollection<NodeInfo>(inputs);
            Outputs = new ReadOnlyCollection<NodeInfo>(outputs);
            foreach (NodeInfo node in inputs.Concat(outputs))
                nativeNames.TryAdd(node.Name, NativeUtf8.NullTerminated(node.Name, pinned: true));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public IReadOnlyList<NodeInfo> Inputs { get; }

    /// <summary>Whether runs treat denormal floats as zero on every thread that computes (see <see cref="SessionOptions.FlushDenormals"/>).</summary>
    public bool FlushesDenormals { get; }

    public IReadOnlyList<NodeInfo> Outputs { get; }

    /// <summary>
    /// Runs the model on <paramref name="inputs"/> (named by <paramref name="inputNames"/>) and
    /// returns the requested outputs in order; the caller disposes them. Cancelling
    /// <paramref name="cancellationToken"/> asks ORT to stop between operators and then throws
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public OrtValue[] Run(IReadOnlyList<string> inputNames, IReadOnlyList<OrtValue> inputs,
        IReadOnlyList<string> outputNames, CancellationToken cancellationToken = default) =>
        Run(inputNames, inputs, outputNames, null, cancellationToken);

    /// <summary>
    /// As <see cref="Run(IReadOnlyList{string}, IReadOnlyList{OrtValue}, IReadOnlyList{string}, CancellationToken)"/>,
    /// but ORT writes each output whose entry in <paramref name="outputs"/> is not null into that
    /// tensor (its shape must be the one the model produces); the result holds that same value
    /// for it, still owned by the caller. A tensor may be both an input and an output, which is
    /// how an operator that updates a buffer in place (GroupQueryAttention's shared KV) is fed.
    /// </summary>
    public unsafe OrtValue[] Run(IReadOnlyList<string> inputNames, IReadOnlyList<OrtValue> inputs,
        IReadOnlyList<string> outputNames, IReadOnlyList<OrtValue?>? outputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputNames);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputNames);
        if (inputNames.Count != inputs.Count)
            throw new ArgumentException($"{inputNames.Count} input names were given for {inputs.Count} inputs.", nameof(inputNames));
        if (outputs is not null && outputs.Count != outputNames.Count)
            throw new ArgumentException($"{outputs.Count} output values were given for {outputNames.Count} output names.", nameof(outputs));
        ObjectDisposedException.ThrowIf(handle.IsClosed, this);
        cancellationToken.ThrowIfCancellationRequested();

        int inputCount = inputs.Count;
        int outputCount = outputNames.Count;
        var inputNamePointers = new nint[inputCount];
        var inputPointers = new nint[inputCount];
        var outputNamePointers = new nint[outputCount];
        var outputPointers = new nint[outputCount];
        var inputLeases = new OrtHandle.Lease[inputCount];
        var outputLeases = new OrtHandle.Lease[outputCount];
        var leasedOutputIndex = new int[outputCount];
        List<byte[]>? transientNames = null; // names the model lacks; ORT reports them
        int leased = 0, outputsLeased = 0;
        RunOptionsHandle? runOptions = null;
        CancellationTokenRegistration registration = default;
        OrtHandle.Lease session = handle.Acquire();
        try
        {
            for (int i = 0; i < inputCount; i++)
            {
                inputNamePointers[i] = NamePointer(inputNames[i], ref transientNames);
                OrtValue input = inputs[i] ?? throw new ArgumentException($"Input {i} is null.", nameof(inputs));
                inputLeases[i] = input.Handle.Acquire();
                leased++;
                inputPointers[i] = inputLeases[i].Pointer;
            }
            for (int i = 0; i < outputCount; i++)
            {
                outputNamePointers[i] = NamePointer(outputNames[i], ref transientNames);
                if (outputs?[i] is { } supplied)
                {
                    outputLeases[i] = supplied.Handle.Acquire();
                    leasedOutputIndex[outputsLeased++] = i;
                    outputPointers[i] = outputLeases[i].Pointer;
                }
            }

            if (cancellationToken.CanBeCanceled)
            {
                runOptions = new RunOptionsHandle(OrtApi.CreateRunOptions());
                registration = cancellationToken.Register(static state =>
                    OrtApi.RunOptionsSetTerminate(((RunOptionsHandle)state!).DangerousGetHandle()), runOptions);
            }

            nint status;
            uint callerMode = FlushesDenormals ? DenormalMode.Enter() : 0;
            try
            {
                fixed (nint* inNames = inputNamePointers, inValues = inputPointers, outNames = outputNamePointers, outValues = outputPointers)
                {
                    status = OrtApi.Run(session.Pointer, runOptions?.DangerousGetHandle() ?? 0,
                        inNames, inValues, (nuint)inputCount, outNames, (nuint)outputCount, outValues);
                }
            }
            finally
            {
                if (FlushesDenormals) DenormalMode.Restore(callerMode);
            }
            GC.KeepAlive(transientNames);

            if (status != 0)
            {
                ReleaseOutputs(outputPointers, outputs);
                if (cancellationToken.IsCancellationRequested)
                {
                    OrtApi.ReleaseStatus(status);
                    throw new OperationCanceledException(cancellationToken);
                }
                throw OrtApi.TakeError(status);
            }

            var results = new OrtValue[outputCount];
            for (int i = 0; i < outputCount; i++)
                results[i] = outputs?[i] ?? new OrtValue(new ValueHandle(outputPointers[i]));
            return results;
        }
        finally
        {
            // The registration goes first: disposing it waits for a running callback, which
            // must not touch the run options after they are released.
            registration.Dispose();
            runOptions?.Dispose();
            for (int i = 0; i < leased; i++) inputLeases[i].Dispose();
            for (int i = 0; i < outputsLeased; i++) outputLeases[leasedOutputIndex[i]].Dispose();
            session.Dispose();
        }
    }

    public void Dispose() => handle.Dispose();

    private nint NamePointer(string name, ref List<byte[]>? transientNames)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!nativeNames.TryGetValue(name, out byte[]? bytes))
        {
            bytes = NativeUtf8.NullTerminated(name, pinned: true);
            (transientNames ??= []).Add(bytes);
        }
        return NativeUtf8.AddressOfPinned(bytes);
    }

    private static void ReleaseOutputs(nint[] outputPointers, IReadOnlyList<OrtValue?>? supplied)
    {
        for (int i = 0; i < outputPointers.Length; i++)
            if (outputPointers[i] != 0 && supplied?[i] is null) OrtApi.ReleaseValue(outputPointers[i]);
    }
}
