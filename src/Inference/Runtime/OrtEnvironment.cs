namespace Qwen.Inference.Runtime;

/// <summary>
/// The process-wide ONNX Runtime objects: the library's API table, the one <c>OrtEnv</c>,
/// the CPU memory info for tensors over managed memory and ORT's default allocator.
/// </summary>
public static class OrtEnvironment
{
    private const int LoggingLevelWarning = 2;
    private const int ArenaAllocator = 1;
    private const int MemTypeDefault = 0;

    private static readonly Lock Gate = new();
    // Created once and never released: sessions and values must not outlive the env, and
    // process exit is the only point where none remain.
    private static nint env;
    private static nint cpuMemoryInfo;
    private static nint defaultAllocator;

    /// <summary>The loaded library's version string, e.g. "1.30.0".</summary>
    public static string Version => OrtNativeLibrary.Version;

    /// <summary>The <c>ORT_API_VERSION</c> requested from the library.</summary>
    public static int ApiVersion => (int)OrtNativeLibrary.ApiVersion;

    /// <summary>The <c>OrtApi</c> function table; see <see cref="OrtApi"/> for typed calls.</summary>
    internal static unsafe nint* ApiTable => OrtNativeLibrary.ApiTable;

    internal static nint Handle => GetOrCreate(ref env, static () => OrtApi.CreateEnv(LoggingLevelWarning, "qwen"));

    internal static nint CpuMemoryInfo =>
        GetOrCreate(ref cpuMemoryInfo, static () => OrtApi.CreateCpuMemoryInfo(ArenaAllocator, MemTypeDefault));

    /// <summary>ORT's default CPU allocator; ORT owns it, so it is never released.</summary>
    internal static nint DefaultAllocator => GetOrCreate(ref defaultAllocator, OrtApi.GetAllocatorWithDefaultOptions);

    private static nint GetOrCreate(ref nint field, Func<nint> create)
    {
        nint value = Volatile.Read(ref field);
        if (value != 0) return value;
        lock (Gate)
        {
            if (field == 0) Volatile.Write(ref field, create());
            return field;
        }
    }
}
