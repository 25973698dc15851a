namespace Qwen.Inference.Runtime;

/// <summary>
/// Zero-based positions of the functions this binding calls in the <c>OrtApi</c> struct of
/// <c>onnxruntime_c_api.h</c>. The struct only ever grows at the end, so these never move;
/// a wrong position calls the wrong function, so each was counted from the header in order.
/// </summary>
internal static class OrtApiIndex
{
    internal const int CreateStatus = 0;
    internal const int GetErrorCode = 1;
    internal const int GetErrorMessage = 2;
    internal const int CreateEnv = 3;
    internal const int CreateSession = 7;
    internal const int Run = 9;
    internal const int CreateSessionOptions = 10;
    internal const int SetOptimizedModelFilePath = 11;
    internal const int SetSessionExecutionMode = 13;
    internal const int EnableProfiling = 14;
    internal const int EnableMemPattern = 16;
    internal const int DisableMemPattern = 17;
    internal const int EnableCpuMemArena = 18;
    internal const int DisableCpuMemArena = 19;
    internal const int SetSessionGraphOptimizationLevel = 23;
    internal const int SetIntraOpNumThreads = 24;
    internal const int SetInterOpNumThreads = 25;
    internal const int SessionGetInputCount = 30;
    internal const int SessionGetOutputCount = 31;
    internal const int SessionGetInputTypeInfo = 33;
    internal const int SessionGetOutputTypeInfo = 34;
    internal const int SessionGetInputName = 36;
    internal const int SessionGetOutputName = 37;
    internal const int CreateRunOptions = 39;
    internal const int RunOptionsSetTerminate = 46;
    internal const int CreateTensorWithDataAsOrtValue = 49;
    internal const int GetTensorMutableData = 51;
    internal const int CastTypeInfoToTensorInfo = 55;
    internal const int GetOnnxTypeFromTypeInfo = 56;
    internal const int GetTensorElementType = 60;
    internal const int GetDimensionsCount = 61;
    internal const int GetDimensions = 62;
    internal const int GetSymbolicDimensions = 63;
    internal const int GetTensorTypeAndShape = 65;
    internal const int CreateCpuMemoryInfo = 69;
    internal const int AllocatorFree = 76;
    internal const int GetAllocatorWithDefaultOptions = 78;
    internal const int ReleaseStatus = 93;
    internal const int ReleaseSession = 95;
    internal const int ReleaseValue = 96;
    internal const int ReleaseRunOptions = 97;
    internal const int ReleaseTypeInfo = 98;
    internal const int ReleaseTensorTypeAndShapeInfo = 99;
    internal const int ReleaseSessionOptions = 100;
    internal const int AddSessionConfigEntry = 130;
}
