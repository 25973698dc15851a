using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Engine;

/// <summary>Creates the ONNX Runtime session for a decoder from <see cref="DecoderSessionOptions"/>.</summary>
internal static class OrtSessionFactory
{
    public static OrtSession Create(string onnxPath, DecoderSessionOptions options)
    {
        // First, so that the flushing threads' session is the process's first (see DenormalFlushThreads).
        bool flush = DenormalFlushThreads.IsAvailable && options.FlushDenormals;
        using var sessionOptions = Build(options, flush);
        return new OrtSession(new InferenceSession(onnxPath, sessionOptions), flush);
    }

    private static SessionOptions Build(DecoderSessionOptions options, bool flushDenormals)
    {
        var sessionOptions = new SessionOptions();
        try
        {
            sessionOptions.IntraOpNumThreads = options.IntraOpThreads > 0 ? options.IntraOpThreads : Environment.ProcessorCount;
            sessionOptions.GraphOptimizationLevel = options.OptimizationLevel;
            sessionOptions.EnableCpuMemArena = options.EnableMemoryArena;
            sessionOptions.EnableMemoryPattern = options.EnableMemoryPattern;
            sessionOptions.AddSessionConfigEntry("session.set_denormal_as_zero", flushDenormals ? "1" : "0");
            foreach (var (key, value) in options.SessionConfig) sessionOptions.AddSessionConfigEntry(key, value);
            if (options.ProfileFilePrefix is { } profile)
            {
                // The prefix first: enabling profiling passes the prefix set at that moment to ORT.
                sessionOptions.ProfileOutputPathPrefix = Path.GetFullPath(profile);
                sessionOptions.EnableProfiling = true;
            }
            return sessionOptions;
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }
}
