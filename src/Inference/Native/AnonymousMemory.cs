using System.Runtime.InteropServices;

namespace Qwen.Inference.Native;

/// <summary>
/// Private anonymous memory mappings (Unix mmap): pages cost nothing until touched, read as zero,
/// and go back to the system the moment they are unmapped, unlike the GC heap or malloc's arenas.
/// Mappings are readable and writable, never executable.
/// </summary>
internal static partial class AnonymousMemory
{
    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MapNoReserve = 0x4000, MadviseDontNeed = 4;

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Maps <paramref name="bytes"/> of readable, writable memory; 0 when the system refuses.</summary>
    public static nint Map(nuint bytes)
    {
        nint address = mmap(0, bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        return address == -1 ? 0 : address;
    }

    public static void Unmap(nint address, nuint bytes) => _ = munmap(address, bytes);

    /// <summary>
    /// Gives the whole pages inside [address, address + bytes) back to the system; they read as zero
    /// when touched again. Pages only partly inside stay.
    /// </summary>
    public static void Discard(nint address, nuint bytes)
    {
        nint page = Environment.SystemPageSize;
        nint start = (address + page - 1) / page * page, end = (address + (nint)bytes) / page * page;
        if (end > start) _ = madvise(start, (nuint)(end - start), MadviseDontNeed);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(nint address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint address, nuint length, int advice);
}
