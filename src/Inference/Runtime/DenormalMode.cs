using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Qwen.Inference.Runtime;

/// <summary>
/// Flush-to-zero and denormals-are-zero for the calling thread (the MXCSR bits FTZ and DAZ on x64).
/// Arithmetic on denormal floats is many times slower; softmax tails and SiLU of large negative
/// inputs produce them all the time. ORT sets the mode on its own pool threads
/// (<c>session.set_denormal_as_zero</c>) but not on the thread that calls Run, which also computes
/// a share of every parallel operator: if that thread kept denormals, a result would depend on
/// which thread took which share. So each Run sets the mode on its calling thread and restores it
/// after, which .NET offers no API for: two tiny machine-code functions read and write MXCSR.
/// </summary>
internal static unsafe class DenormalMode
{
    private const uint FlushToZero = 0x8000, DenormalsAreZero = 0x0040;

    // stmxcsr [rsp-8]; mov eax, [rsp-8]; ret   (the System V red zone below rsp is the leaf's to use)
    private static readonly byte[] ReadCode = [0x0F, 0xAE, 0x5C, 0x24, 0xF8, 0x8B, 0x44, 0x24, 0xF8, 0xC3];

    // mov [rsp-8], edi; ldmxcsr [rsp-8]; ret
    private static readonly byte[] WriteCode = [0x89, 0x7C, 0x24, 0xF8, 0x0F, 0xAE, 0x54, 0x24, 0xF8, 0xC3];

    private static readonly delegate* unmanaged<uint> s_read;
    private static readonly delegate* unmanaged<uint, void> s_write;

    static DenormalMode()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64 || !Sse.IsSupported) return;
        byte* page = MapCode([.. ReadCode, .. WriteCode]);
        if (page is null) return;
        s_read = (delegate* unmanaged<uint>)page;
        s_write = (delegate* unmanaged<uint, void>)(page + ReadCode.Length);
    }

    /// <summary>Whether this process can set the mode per thread (x64 Linux).</summary>
    public static bool IsSupported => s_read is not null;

    /// <summary>The calling thread's MXCSR.</summary>
    public static uint Read() => IsSupported ? s_read() : 0;

    /// <summary>Turns flushing on for the calling thread; returns the previous state for <see cref="Restore"/>.</summary>
    public static uint Enter()
    {
        if (!IsSupported) return 0;
        uint previous = s_read();
        uint wanted = previous | FlushToZero | DenormalsAreZero;
        if (wanted != previous) s_write(wanted);
        return previous;
    }

    /// <summary>Puts back the state <see cref="Enter"/> returned.</summary>
    public static void Restore(uint previous)
    {
        if (IsSupported && s_read() != previous) s_write(previous);
    }

    /// <summary>Whether flushing is on for the calling thread.</summary>
    public static bool IsOn => (Read() & (FlushToZero | DenormalsAreZero)) == (FlushToZero | DenormalsAreZero);

    private static byte* MapCode(byte[] code)
    {
        nuint size = (nuint)Environment.SystemPageSize;
        nint page = AnonymousMemory.Map(size);
        if (page == 0) return null;
        code.CopyTo(new Span<byte>((void*)page, code.Length));
        if (!AnonymousMemory.MakeExecutable(page, size))
        {
            AnonymousMemory.Unmap(page, size);
            return null;
        }
        return (byte*)page;
    }
}
