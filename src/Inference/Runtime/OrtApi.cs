namespace Qwen.Inference.Runtime;

/// <summary>
/// Typed calls through the <c>OrtApi</c> function table. Every non-null <c>OrtStatus*</c> a
/// function returns is released and rethrown as an <see cref="OrtException"/>.
/// </summary>
internal static unsafe class OrtApi
{
    private const int OnnxTypeTensor = 1;

    private static nint Fn(int index) => OrtNativeLibrary.ApiTable[index];

    // ---- OrtStatus ----

    internal static void Check(nint status)
    {
        if (status != 0) throw TakeError(status);
    }

    /// <summary>Converts a non-null status into an exception and releases the status.</summary>
    internal static OrtException TakeError(nint status)
    {
        try
        {
            int code = ((delegate* unmanaged[Cdecl]<nint, int>)Fn(OrtApiIndex.GetErrorCode))(status);
            nint message = ((delegate* unmanaged[Cdecl]<nint, nint>)Fn(OrtApiIndex.GetErrorMessage))(status);
            return new OrtException(code, NativeUtf8.Read(message));
        }
        finally
        {
            ReleaseStatus(status);
        }
    }

    internal static nint CreateStatus(int code, string message)
    {
        fixed (byte* text = NativeUtf8.NullTerminated(message))
            return ((delegate* unmanaged[Cdecl]<int, byte*, nint>)Fn(OrtApiIndex.CreateStatus))(code, text);
    }

    internal static void ReleaseStatus(nint status) => Release(OrtApiIndex.ReleaseStatus, status);

    // ---- OrtEnv, memory info, allocator ----

    internal static nint CreateEnv(int loggingLevel, string logId)
    {
        nint env;
        fixed (byte* id = NativeUtf8.NullTerminated(logId))
            Check(((delegate* unmanaged[Cdecl]<int, byte*, nint*, nint>)Fn(OrtApiIndex.CreateEnv))(loggingLevel, id, &env));
        return env;
    }

    internal static nint CreateCpuMemoryInfo(int allocatorType, int memType)
    {
        nint info;
        Check(((delegate* unmanaged[Cdecl]<int, int, nint*, nint>)Fn(OrtApiIndex.CreateCpuMemoryInfo))(allocatorType, memType, &info));
        return info;
    }

    internal static nint GetAllocatorWithDefaultOptions()
    {
        nint allocator;
        Check(((delegate* unmanaged[Cdecl]<nint*, nint>)Fn(OrtApiIndex.GetAllocatorWithDefaultOptions))(&allocator));
        return allocator;
    }

    internal static void AllocatorFree(nint allocator, nint pointer) =>
        Check(((delegate* unmanaged[Cdecl]<nint, nint, nint>)Fn(OrtApiIndex.AllocatorFree))(allocator, pointer));

    // ---- OrtSessionOptions ----

    internal static nint CreateSessionOptions()
    {
        nint options;
        Check(((delegate* unmanaged[Cdecl]<nint*, nint>)Fn(OrtApiIndex.CreateSessionOptions))(&options));
        return options;
    }

    internal static void SetOptimizedModelFilePath(nint options, string path)
    {
        fixed (byte* text = NativeUtf8.NullTerminated(path))
            Check(((delegate* unmanaged[Cdecl]<nint, byte*, nint>)Fn(OrtApiIndex.SetOptimizedModelFilePath))(options, text));
    }

    internal static void EnableProfiling(nint options, string filePrefix)
    {
        fixed (byte* text = NativeUtf8.NullTerminated(filePrefix))
            Check(((delegate* unmanaged[Cdecl]<nint, byte*, nint>)Fn(OrtApiIndex.EnableProfiling))(options, text));
    }

    internal static void SetSessionExecutionMode(nint options, int mode) => CallWithInt(OrtApiIndex.SetSessionExecutionMode, options, mode);
    internal static void SetSessionGraphOptimizationLevel(nint options, int level) => CallWithInt(OrtApiIndex.SetSessionGraphOptimizationLevel, options, level);
    internal static void SetIntraOpNumThreads(nint options, int threads) => CallWithInt(OrtApiIndex.SetIntraOpNumThreads, options, threads);
    internal static void SetInterOpNumThreads(nint options, int threads) => CallWithInt(OrtApiIndex.SetInterOpNumThreads, options, threads);
    internal static void EnableMemPattern(nint options) => Call(OrtApiIndex.EnableMemPattern, options);
    internal static void DisableMemPattern(nint options) => Call(OrtApiIndex.DisableMemPattern, options);
    internal static void EnableCpuMemArena(nint options) => Call(OrtApiIndex.EnableCpuMemArena, options);
    internal static void DisableCpuMemArena(nint options) => Call(OrtApiIndex.DisableCpuMemArena, options);

    internal static void AddSessionConfigEntry(nint options, string key, string value)
    {
        fixed (byte* k = NativeUtf8.NullTerminated(key))
        fixed (byte* v = NativeUtf8.NullTerminated(value))
            Check(((delegate* unmanaged[Cdecl]<nint, byte*, byte*, nint>)Fn(OrtApiIndex.AddSessionConfigEntry))(options, k, v));
    }

    internal static void ReleaseSessionOptions(nint options) => Release(OrtApiIndex.ReleaseSessionOptions, options);

    // ---- OrtSession ----

    internal static nint CreateSession(nint env, string modelPath, nint options)
    {
        nint session;
        // ORTCHAR_T is char (UTF-8) on Linux, the only platform the bundled library serves.
        fixed (byte* path = NativeUtf8.NullTerminated(modelPath))
            Check(((delegate* unmanaged[Cdecl]<nint, byte*, nint, nint*, nint>)Fn(OrtApiIndex.CreateSession))(env, path, options, &session));
        return session;
    }

    /// <summary>Runs the session and returns the raw status, so the caller can tell cancellation from failure.</summary>
    internal static nint Run(nint session, nint runOptions, nint* inputNames, nint* inputs, nuint inputCount,
        nint* outputNames, nuint outputCount, nint* outputs) =>
        ((delegate* unmanaged[Cdecl]<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)Fn(OrtApiIndex.Run))(
            session, runOptions, inputNames, inputs, inputCount, outputNames, outputCount, outputs);

    internal static int SessionGetInputCount(nint session) => GetCount(OrtApiIndex.SessionGetInputCount, session);
    internal static int SessionGetOutputCount(nint session) => GetCount(OrtApiIndex.SessionGetOutputCount, session);

    internal static string SessionGetInputName(nint session, int index) => GetName(OrtApiIndex.SessionGetInputName, session, index);
    internal static string SessionGetOutputName(nint session, int index) => GetName(OrtApiIndex.SessionGetOutputName, session, index);

    internal static nint SessionGetInputTypeInfo(nint session, int index) => GetTypeInfo(OrtApiIndex.SessionGetInputTypeInfo, session, index);
    internal static nint SessionGetOutputTypeInfo(nint session, int index) => GetTypeInfo(OrtApiIndex.SessionGetOutputTypeInfo, session, index);

    internal static void ReleaseSession(nint session) => Release(OrtApiIndex.ReleaseSession, session);

    // ---- OrtRunOptions ----

    internal static nint CreateRunOptions()
    {
        nint options;
        Check(((delegate* unmanaged[Cdecl]<nint*, nint>)Fn(OrtApiIndex.CreateRunOptions))(&options));
        return options;
    }

    /// <summary>Asks a run using these options to stop. Never throws: it runs inside cancellation
    /// callbacks, where an exception would surface in whoever cancelled.</summary>
    internal static void RunOptionsSetTerminate(nint options)
    {
        nint status = ((delegate* unmanaged[Cdecl]<nint, nint>)Fn(OrtApiIndex.RunOptionsSetTerminate))(options);
        if (status != 0) ReleaseStatus(status);
    }

    internal static void ReleaseRunOptions(nint options) => Release(OrtApiIndex.ReleaseRunOptions, options);

    // ---- OrtValue and type information ----

    internal static nint CreateTensorWithDataAsOrtValue(nint memoryInfo, void* data, nuint byteLength,
        long* shape, nuint shapeLength, int elementType)
    {
        nint value;
        Check(((delegate* unmanaged[Cdecl]<nint, void*, nuint, long*, nuint, int, nint*, nint>)Fn(OrtApiIndex.CreateTensorWithDataAsOrtValue))(
            memoryInfo, data, byteLength, shape, shapeLength, elementType, &value));
        return value;
    }

    internal static nint GetTensorMutableData(nint value)
    {
        nint data;
        Check(((delegate* unmanaged[Cdecl]<nint, nint*, nint>)Fn(OrtApiIndex.GetTensorMutableData))(value, &data));
        return data;
    }

    /// <summary>A new shape info for a tensor value; release it with <see cref="ReleaseTensorTypeAndShapeInfo"/>.</summary>
    internal static nint GetTensorTypeAndShape(nint value)
    {
        nint info;
        Check(((delegate* unmanaged[Cdecl]<nint, nint*, nint>)Fn(OrtApiIndex.GetTensorTypeAndShape))(value, &info));
        return info;
    }

    internal static bool IsTensorType(nint typeInfo)
    {
        int onnxType;
        Check(((delegate* unmanaged[Cdecl]<nint, int*, nint>)Fn(OrtApiIndex.GetOnnxTypeFromTypeInfo))(typeInfo, &onnxType));
        return onnxType == OnnxTypeTensor;
    }

    /// <summary>The tensor part of a type info, owned by the type info (not to be released).</summary>
    internal static nint CastTypeInfoToTensorInfo(nint typeInfo)
    {
        nint tensorInfo;
        Check(((delegate* unmanaged[Cdecl]<nint, nint*, nint>)Fn(OrtApiIndex.CastTypeInfoToTensorInfo))(typeInfo, &tensorInfo));
        return tensorInfo;
    }

    internal static TensorElementType GetTensorElementType(nint tensorInfo)
    {
        int type;
        Check(((delegate* unmanaged[Cdecl]<nint, int*, nint>)Fn(OrtApiIndex.GetTensorElementType))(tensorInfo, &type));
        return (TensorElementType)type;
    }

    internal static long[] GetDimensions(nint tensorInfo)
    {
        long[] dims = new long[GetDimensionsCount(tensorInfo)];
        fixed (long* p = dims)
            Check(((delegate* unmanaged[Cdecl]<nint, long*, nuint, nint>)Fn(OrtApiIndex.GetDimensions))(tensorInfo, p, (nuint)dims.Length));
        return dims;
    }

    /// <summary>Each dimension's <c>dim_param</c> name, null where it has none.</summary>
    internal static string?[] GetSymbolicDimensions(nint tensorInfo)
    {
        nint[] names = new nint[GetDimensionsCount(tensorInfo)];
        fixed (nint* p = names)
            Check(((delegate* unmanaged[Cdecl]<nint, nint*, nuint, nint>)Fn(OrtApiIndex.GetSymbolicDimensions))(tensorInfo, p, (nuint)names.Length));
        var result = new string?[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            string name = names[i] == 0 ? string.Empty : NativeUtf8.Read(names[i]);
            result[i] = name.Length == 0 ? null : name;
        }
        return result;
    }

    internal static void ReleaseTypeInfo(nint typeInfo) => Release(OrtApiIndex.ReleaseTypeInfo, typeInfo);
    internal static void ReleaseTensorTypeAndShapeInfo(nint info) => Release(OrtApiIndex.ReleaseTensorTypeAndShapeInfo, info);
    internal static void ReleaseValue(nint value) => Release(OrtApiIndex.ReleaseValue, value);

    // ---- shared call shapes ----

    private static int GetDimensionsCount(nint tensorInfo)
    {
        nuint count;
        Check(((delegate* unmanaged[Cdecl]<nint, nuint*, nint>)Fn(OrtApiIndex.GetDimensionsCount))(tensorInfo, &count));
        return checked((int)count);
    }

    private static void Call(int index, nint target) =>
        Check(((delegate* unmanaged[Cdecl]<nint, nint>)Fn(index))(target));

    private static void CallWithInt(int index, nint target, int argument) =>
        Check(((delegate* unmanaged[Cdecl]<nint, int, nint>)Fn(index))(target, argument));

    private static void Release(int index, nint target) =>
        ((delegate* unmanaged[Cdecl]<nint, void>)Fn(index))(target);

    private static int GetCount(int index, nint session)
    {
        nuint count;
        Check(((delegate* unmanaged[Cdecl]<nint, nuint*, nint>)Fn(index))(session, &count));
        return checked((int)count);
    }

    private static nint GetTypeInfo(int index, nint session, int position)
    {
        nint typeInfo;
        Check(((delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint>)Fn(index))(session, (nuint)position, &typeInfo));
        return typeInfo;
    }

    /// <summary>Copies a name ORT allocated with the default allocator, then frees it there.</summary>
    private static string GetName(int index, nint session, int position)
    {
        nint allocator = OrtEnvironment.DefaultAllocator;
        nint name;
        Check(((delegate* unmanaged[Cdecl]<nint, nuint, nint, nint*, nint>)Fn(index))(session, (nuint)position, allocator, &name));
        try
        {
            return NativeUtf8.Read(name);
        }
        finally
        {
            AllocatorFree(allocator, name);
        }
    }
}
