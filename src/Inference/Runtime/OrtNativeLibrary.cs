using System.Runtime.InteropServices;

namespace Qwen.Inference.Runtime;

/// <summary>
/// Loads the ONNX Runtime shared library that the build copies next to the assemblies and
/// resolves its <c>OrtApi</c> function table through the one exported entry point.
/// </summary>
internal static unsafe class OrtNativeLibrary
{
    /// <summary>The <c>ORT_API_VERSION</c> of the C header the table positions in <see cref="OrtApiIndex"/> come from.
    /// The table is append-only, so any newer library serves it unchanged.</summary>
    internal const uint ApiVersion = 13;

    private static readonly Lock Gate = new();
    private static nint apiTable;
    private static string? version;

    /// <summary>The library's <c>OrtApi</c> function table, loading the library on first use.</summary>
    internal static nint* ApiTable
    {
        get
        {
            nint table = Volatile.Read(ref apiTable);
            return (nint*)(table != 0 ? table : Load());
        }
    }

    internal static string Version
    {
        get
        {
            _ = ApiTable;
            return version!;
        }
    }

    internal static string LibraryPath
    {
        get
        {
            if (!OperatingSystem.IsLinux())
                throw new PlatformNotSupportedException("The bundled ONNX Runtime native library is only available for Linux.");
            string rid = RuntimeInformation.ProcessArchitecture switch
            {
                Architecture.X64 => "linux-x64",
                Architecture.Arm64 => "linux-arm64",
                var other => throw new PlatformNotSupportedException($"No ONNX Runtime native library is bundled for {other}."),
            };
            return Path.Combine(Path.GetDirectoryName(typeof(OrtNativeLibrary).Assembly.Location)!, "native", rid, "libonnxruntime.so.1");
        }
    }

    private static nint Load()
    {
        // A lock rather than a static constructor so a missing library surfaces as its own
        // exception (not a TypeInitializationException) and a later call can retry.
        lock (Gate)
        {
            if (apiTable != 0) return apiTable;

            string path = LibraryPath;
            if (!File.Exists(path))
                throw new DllNotFoundException($"ONNX Runtime native library not found at {path}; build the project to fetch it");

            nint library = NativeLibrary.Load(path);
            var getApiBase = (delegate* unmanaged[Cdecl]<nint*>)NativeLibrary.GetExport(library, "OrtGetApiBase");
            nint* apiBase = getApiBase(); // OrtApiBase { GetApi, GetVersionString }
            var getApi = (delegate* unmanaged[Cdecl]<uint, nint>)apiBase[0];
            var getVersionString = (delegate* unmanaged[Cdecl]<byte*>)apiBase[1];

            string libraryVersion = Marshal.PtrToStringUTF8((nint)getVersionString()) ?? "unknown";
            nint table = getApi(ApiVersion);
            if (table == 0)
                throw new NotSupportedException(
                    $"ONNX Runtime {libraryVersion} at {path} does not provide C API version {ApiVersion}.");

            version = libraryVersion;
            Volatile.Write(ref apiTable, table);
            return table;
        }
    }
}
