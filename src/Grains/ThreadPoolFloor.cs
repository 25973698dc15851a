namespace Qwen.Grains;

/// <summary>
/// Raises the thread pool's minimum worker threads. Model calls keep cores busy for seconds,
/// and on a small machine the default minimum (one per core) left timers and continuations
/// waiting for the pool to grow: a 100 ms request deadline fired after 1.4 s while a
/// sequential reply ran. Only ever raises the minimum; hosts call it once at start-up.
/// </summary>
public static class ThreadPoolFloor
{
    public const int MinWorkerThreads = 16;

    public static void Ensure()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        if (workers < MinWorkerThreads) ThreadPool.SetMinThreads(MinWorkerThreads, Math.Max(io, MinWorkerThreads));
    }
}
