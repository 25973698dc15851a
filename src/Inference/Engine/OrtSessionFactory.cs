using System.Runtime.ExceptionServices;
using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Engine;

/// <summary>
/// Creates the ONNX Runtime session for a decoder from <see cref="DecoderSessionOptions"/>.
/// </summary>
/// <remarks>
/// Flushing denormals must hold on every thread that computes, or a result would depend on which
/// thread took which share of an operator. ORT's <c>session.set_denormal_as_zero</c> covers the
/// threads ORT creates, not the thread that calls Run, which in sequential execution computes a
/// share of every parallel operator. So a flushing session runs in parallel execution mode with
/// one inter-op thread: that ORT thread walks the graph (and joins the intra-op pool's parallel
/// loops) while the caller only waits. The graph is a chain, so nothing runs side by side.
/// </remarks>
internal static class OrtSessionFactory
{
    private const string DenormalAsZero = "session.set_denormal_as_zero";

    public static InferenceSession Create(string onnxPath, DecoderSessionOptions options)
    {
        using var sessionOptions = Build(options);
        return CreateOnOwnThread(onnxPath, sessionOptions);
    }

    internal static SessionOptions Build(DecoderSessionOptions options)
    {
        var sessionOptions = new SessionOptions();
        try
        {
            sessionOptions.IntraOpNumThreads = options.IntraOpThreads > 0 ? options.IntraOpThreads : Environment.ProcessorCount;
            sessionOptions.GraphOptimizationLevel = options.OptimizationLevel;
            sessionOptions.EnableCpuMemArena = options.EnableMemoryArena;
            sessionOptions.EnableMemoryPattern = options.EnableMemoryPattern;
            sessionOptions.AddSessionConfigEntry(DenormalAsZero, options.FlushDenormals ? "1" : "0");
            if (options.FlushDenormals)
            {
                sessionOptions.ExecutionMode = ExecutionMode.ORT_PARALLEL;
                // A pool of two is one thread besides the caller; ORT counts the caller in.
                sessionOptions.InterOpNumThreads = 2;
            }
            foreach (var (key, value) in options.SessionConfig) sessionOptions.AddSessionConfigEntry(key, value);
            if (options.ProfileFilePrefix is { } profile)
            {
                sessionOptions.EnableProfiling = true;
                sessionOptions.ProfileOutputPathPrefix = Path.GetFullPath(profile);
            }
            return sessionOptions;
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>
    /// ORT sets the denormal mode of the thread that creates the process's first session, for good;
    /// a short-lived thread of our own takes that change, so no caller's arithmetic is altered.
    /// </summary>
    private static InferenceSession CreateOnOwnThread(string onnxPath, SessionOptions sessionOptions)
    {
        InferenceSession? session = null;
        ExceptionDispatchInfo? failure = null;
        var loader = new Thread(() =>
        {
            try
            {
                session = new InferenceSession(onnxPath, sessionOptions);
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }, maxStackSize: 8 << 20) { Name = "ort-session-load", IsBackground = true };
        loader.Start();
        loader.Join();
        failure?.Throw();
        return session!;
    }
}
