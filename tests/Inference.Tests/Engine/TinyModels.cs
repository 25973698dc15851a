using Xunit;
using System.Collections.Concurrent;
using Qwen.Inference.Building;
using Qwen.Inference.Engine;
using Qwen.Inference.Models;
using Qwen.Inference.Reference;

namespace Qwen.Inference.Tests.Engine;

/// <summary>
/// Tiny-preset models built once per test run (each variant on first use) in a temporary
/// directory that is deleted at the end, with their loaded sessions and the C# reference.
/// </summary>
public sealed class TinyModels : IDisposable
{
    public const ulong Seed = 7;

    private static readonly IReadOnlyDictionary<string, ModelBuildOptions> Variants = new Dictionary<string, ModelBuildOptions>
    {
        // The standard (Hugging Face export) layout and its I/O variants: the KV-grid engine path.
        ["fp32"] = new() { KvLayout = KvLayout.Standard },
        ["int8"] = new() { KvLayout = KvLayout.Standard, WeightType = WeightType.Int8 },
        ["no-position-ids"] = new() { KvLayout = KvLayout.Standard, PositionIdsInput = false },
        ["use-cache-branch"] = new() { KvLayout = KvLayout.Standard, UseCacheBranchInput = true },
        ["fp16-kv"] = new() { KvLayout = KvLayout.Standard, Float16KvCache = true },
        ["no-logits-to-keep"] = new() { KvLayout = KvLayout.Standard, LogitsToKeepInput = false },
        // The shared-buffer layout (the project's default build): the KV-slot engine path.
        ["shared-buffer"] = new() { KvLayout = KvLayout.SharedBuffer },
        ["shared-buffer-no-logits-to-keep"] = new() { KvLayout = KvLayout.SharedBuffer, LogitsToKeepInput = false },
        ["shared-buffer-int8"] = new() { KvLayout = KvLayout.SharedBuffer, WeightType = WeightType.Int8 },
        ["shared-buffer-int4"] = new() { KvLayout = KvLayout.SharedBuffer, WeightType = WeightType.Int4 },
        ["shared-buffer-fp16-kv"] = new() { KvLayout = KvLayout.SharedBuffer, Float16KvCache = true },
        ["shared-buffer-int8-fp16-kv"] = new() { KvLayout = KvLayout.SharedBuffer, WeightType = WeightType.Int8, Float16KvCache = true },
        ["shared-buffer-int8-kv"] = new() { KvLayout = KvLayout.SharedBuffer, Int8KvCache = true },
        ["shared-buffer-int8-int8-kv"] = new() { KvLayout = KvLayout.SharedBuffer, WeightType = WeightType.Int8, Int8KvCache = true },
        ["shared-buffer-int8-kv-lanes"] = new() { KvLayout = KvLayout.SharedBuffer, Int8KvCache = true, PromptLanes = 4 },
        // With prompt lanes: several prompt chunks and the decode rows in one model call.
        ["shared-buffer-lanes"] = new() { KvLayout = KvLayout.SharedBuffer, PromptLanes = 4 },
        ["shared-buffer-int8-lanes"] = new() { KvLayout = KvLayout.SharedBuffer, WeightType = WeightType.Int8, PromptLanes = 4 },
        ["shared-buffer-fp16-kv-lanes"] = new() { KvLayout = KvLayout.SharedBuffer, Float16KvCache = true, PromptLanes = 4 },
    };

    private readonly ConcurrentDictionary<string, Lazy<string>> _paths = new();
    private readonly ConcurrentDictionary<string, Lazy<DecoderSession>> _sessions = new();
    private readonly Lazy<ReferenceQwen2> _reference;

    public TinyModels()
    {
        Root = Directory.CreateTempSubdirectory("qwen-tiny-").FullName;
        _reference = new Lazy<ReferenceQwen2>(() => new ReferenceQwen2(Config, new HashWeightSource(Config, Seed)));
    }

    public static IEnumerable<string> VariantNames => Variants.Keys;

    public string Root { get; }
    public QwenConfig Config => QwenConfig.Tiny;
    public ReferenceQwen2 Reference => _reference.Value;

    /// <summary>The directory of a built variant (built on first use).</summary>
    public string PathOf(string variant) => _paths.GetOrAdd(variant, v => new Lazy<string>(() =>
    {
        string dir = Path.Combine(Root, v);
        ModelDirectoryBuilder.Build(dir, Config, new HashWeightSource(Config, Seed), Variants[v]);
        return dir;
    })).Value;

    /// <summary>A shared session of a built variant.</summary>
    public DecoderSession Session(string variant) =>
        _sessions.GetOrAdd(variant, v => new Lazy<DecoderSession>(() => DecoderSession.Open(PathOf(v)))).Value;

    /// <summary>A private copy of a variant's directory that a test may damage.</summary>
    public string CopyOf(string variant)
    {
        string source = PathOf(variant);
        string target = Directory.CreateTempSubdirectory("qwen-copy-").FullName;
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            string destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }
        return target;
    }

    public void Dispose()
    {
        foreach (var session in _sessions.Values.Where(s => s.IsValueCreated)) session.Value.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp directory must not fail the run.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModels>
{
    public const string Name = "tiny models";
}
