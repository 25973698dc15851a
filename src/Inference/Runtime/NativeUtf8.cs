using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Qwen.Inference.Runtime;

/// <summary>The null-terminated UTF-8 strings that ORT's C API takes and returns.</summary>
internal static unsafe class NativeUtf8
{
    internal static byte[] NullTerminated(string value, bool pinned = false)
    {
        byte[] bytes = GC.AllocateUninitializedArray<byte>(Encoding.UTF8.GetByteCount(value) + 1, pinned);
        int length = Encoding.UTF8.GetBytes(value, bytes);
        bytes[length] = 0;
        return bytes;
    }

    /// <summary>The address of an array allocated with <c>pinned: true</c>, which the GC never moves.</summary>
    internal static nint AddressOfPinned(byte[] pinned) =>
        (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    internal static string Read(nint pointer) => Marshal.PtrToStringUTF8(pointer) ?? string.Empty;
}
