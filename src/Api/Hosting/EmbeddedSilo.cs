using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Qwen.Api.Hosting;

/// <summary>
/// The embedded default's one silo, co-hosted in this process. The front end is compiled against the
/// grain contracts only; the silo (grains, engine, ONNX Runtime) is built into the folder
/// <see cref="Folder"/> beside it and loaded from there only in this mode, so a clustered Api never
/// loads the engine. This is the one composition point of the two.
/// </summary>
internal static class EmbeddedSilo
{
    public const string Folder = "embedded-silo";
    private const string SiloAssembly = "Qwen.Silo.dll";
    private const string HostingType = "Qwen.Silo.Hosting.SiloHostingExtensions";
    private const string HostingMethod = "AddQwenSilo";

    /// <summary>Adds the silo to this host (Orleans with localhost clustering and memory storage, the model, the grains).</summary>
    public static void AddTo(IHostApplicationBuilder builder)
    {
        string path = Path.Combine(AppContext.BaseDirectory, Folder, SiloAssembly);
        if (!File.Exists(path))
            throw new InvalidOperationException($"the embedded silo is not built at {path}; build src/Api (it builds src/Silo into {Folder}/)");
        // The silo's own dependencies (engine, ONNX Runtime, Orleans server) resolve from its folder; shared ones stay this process's.
        var resolver = new AssemblyDependencyResolver(path);
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            resolver.ResolveAssemblyToPath(name) is { } assembly ? context.LoadFromAssemblyPath(assembly) : null;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
            resolver.ResolveUnmanagedDllToPath(name) is { } library ? NativeLibrary.Load(library) : 0;
        var hosting = AssemblyLoadContext.Default.LoadFromAssemblyPath(path).GetType(HostingType, throwOnError: true)!;
        var addSilo = hosting.GetMethod(HostingMethod, BindingFlags.Public | BindingFlags.Static, [typeof(IHostApplicationBuilder)])
            ?? throw new MissingMethodException(HostingType, HostingMethod);
        try
        {
            addSilo.Invoke(null, [builder]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
        }
    }
}
