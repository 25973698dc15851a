namespace Qwen.Inference.Runtime;

/// <summary>
/// Settings for creating an <see cref="InferenceSession"/>, applied to a native
/// <c>OrtSessionOptions</c> as they are set (so ORT rejects bad values at the setter). Property
/// values start at ORT's defaults. One instance can create any number of sessions.
/// </summary>
public sealed class SessionOptions : IDisposable
{
    private const int ExecutionModeSequential = 0;
    private const int ExecutionModeParallel = 1;

    private readonly SessionOptionsHandle handle = new(OrtApi.CreateSessionOptions());
    private int intraOpThreads;
    private int interOpThreads;
    private GraphOptimizationLevel graphOptimizationLevel = GraphOptimizationLevel.All;
    private bool enableCpuMemArena = true;
    private bool enableMemoryPattern = true;
    private bool sequentialExecution = true;
    private string? optimizedModelFilePath;
    private string? profileFilePrefix;
    private bool flushDenormals;

    /// <summary>Threads used within one operator; 0 lets ORT choose.</summary>
    public int IntraOpThreads
    {
        get => intraOpThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            OrtApi.SetIntraOpNumThreads(Native, value);
            intraOpThreads = value;
        }
    }

    /// <summary>Threads used to run independent operators in parallel (parallel execution only); 0 lets ORT choose.</summary>
    public int InterOpThreads
    {
        get => interOpThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            OrtApi.SetInterOpNumThreads(Native, value);
            interOpThreads = value;
        }
    }

    public GraphOptimizationLevel GraphOptimizationLevel
    {
        get => graphOptimizationLevel;
        set
        {
            OrtApi.SetSessionGraphOptimizationLevel(Native, (int)value);
            graphOptimizationLevel = value;
        }
    }

    public bool EnableCpuMemArena
    {
        get => enableCpuMemArena;
        set
        {
            if (value) OrtApi.EnableCpuMemArena(Native);
            else OrtApi.DisableCpuMemArena(Native);
            enableCpuMemArena = value;
        }
    }

    /// <summary>Whether ORT plans one allocation for a run's intermediates from the shapes it saw before.</summary>
    public bool EnableMemoryPattern
    {
        get => enableMemoryPattern;
        set
        {
            if (value) OrtApi.EnableMemPattern(Native);
            else OrtApi.DisableMemPattern(Native);
            enableMemoryPattern = value;
        }
    }

    /// <summary>True runs operators one at a time; false lets independent branches run in parallel.</summary>
    public bool SequentialExecution
    {
        get => sequentialExecution;
        set
        {
            OrtApi.SetSessionExecutionMode(Native, value ? ExecutionModeSequential : ExecutionModeParallel);
            sequentialExecution = value;
        }
    }

    /// <summary>Where ORT saves the model after graph optimization when a session is created; null saves nothing.</summary>
    public string? OptimizedModelFilePath
    {
        get => optimizedModelFilePath;
        set
        {
            // ORT treats an empty path as "do not save".
            OrtApi.SetOptimizedModelFilePath(Native, value is null ? string.Empty : Path.GetFullPath(value));
            optimizedModelFilePath = value;
        }
    }

    /// <summary>
    /// Records every operator's run time to a Chrome-trace JSON file named from this prefix,
    /// written when the session is disposed; null records nothing. Set it once, before creating sessions.
    /// </summary>
    public string? ProfileFilePrefix
    {
        get => profileFilePrefix;
        set
        {
            ArgumentException.ThrowIfNullOrEmpty(value);
            OrtApi.EnableProfiling(Native, Path.GetFullPath(value));
            profileFilePrefix = value;
        }
    }

    /// <summary>
    /// Treats denormal floats as zero on ORT's threads and, during each Run, on the calling
    /// thread (much faster where softmax and activations underflow). Stays false where the
    /// calling thread's mode cannot be set (see <see cref="DenormalMode"/>), since a mode on the
    /// pool threads alone would make results depend on which thread computed what.
    /// </summary>
    public bool FlushDenormals
    {
        get => flushDenormals;
        set
        {
            if (value && !DenormalMode.IsSupported) return;
            OrtApi.AddSessionConfigEntry(Native, "session.set_denormal_as_zero", value ? "1" : "0");
            flushDenormals = value;
        }
    }

    /// <summary>Sets a session configuration entry (keys as in ORT's <c>onnxruntime_session_options_config_keys.h</c>).</summary>
    public void AddConfigEntry(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        OrtApi.AddSessionConfigEntry(Native, key, value);
    }

    internal OrtHandle.Lease Acquire()
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, this);
        return handle.Acquire();
    }

    public void Dispose() => handle.Dispose();

    private nint Native
    {
        get
        {
            ObjectDisposedException.ThrowIf(handle.IsClosed, this);
            return handle.DangerousGetHandle();
        }
    }
}
