using System.Runtime.InteropServices;

namespace Qwen.Inference.Checkpoints;

/// <summary>
/// Lets the kernel drop the pages of a read-only file mapping that have been read, so a
/// converter walking a 1 GB checkpoint does not hold every page it touched in its resident
/// set. The data stays in the page cache and is re-read transparently if touched again.
/// </summary>
internal static unsafe partial class MappedPages
{
    private const int MadvDontNeed = 4;

    public static void Release(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0) return;
        long page = Environment.SystemPageSize;
        // Only whole pages inside the range: neighbours may still be needed.
        long first = ((long)start + page - 1) / page * page;
        long end = ((long)start + length) / page * page;
        if (end > first) _ = madvise((nint)first, (nuint)(end - first), MadvDontNeed);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint address, nuint length, int advice);
}
