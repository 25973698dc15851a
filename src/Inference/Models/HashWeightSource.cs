using System.Text;

namespace Qwen.Inference.Models;

/// <summary>
/// Deterministic synthetic weights: each element is a hash of the tensor name and its flat index,
/// so any implementation can regenerate them without shipping a checkpoint. With seed 0 this is
/// exactly the rule the golden logits were computed with.
/// </summary>
public sealed class HashWeightSource : IWeightSource
{
    private const ulong FnvOffsetBasis = 0xcbf29ce484222325;
    private const ulong FnvPrime = 0x100000001b3;
    private const ulong Golden = 0x9E3779B97F4A7C15;

    // Large enough to amortise task overhead, small enough to spread a 155M-element tensor evenly.
    private const int ChunkSize = 1 << 16;

    private readonly Dictionary<string, Qwen2Parameter> _parameters;
    private readonly ulong _seedMix;

    public HashWeightSource(QwenConfig config, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        _parameters = Qwen2Parameters.For(config).ToDictionary(p => p.Name);
        // Mix(0) == 0, so seed 0 leaves the golden rule untouched.
        _seedMix = Mix(seed);
    }

    public void Fill(string name, Span<float> destination)
    {
        Qwen2Parameter parameter = Lookup(name);
        if (destination.Length != parameter.ElementCount)
            throw new ArgumentException(
                $"'{name}' has {parameter.ElementCount} elements but the destination holds {destination.Length}.",
                nameof(destination));

        ulong h = NameHash(name);
        ParameterKind kind = parameter.Kind;
        if (destination.Length <= ChunkSize)
        {
            FillRange(destination, 0, h, kind);
            return;
        }
        FillParallel(destination, h, kind);
    }

    /// <summary>The value of element <paramref name="index"/> (row-major) of tensor <paramref name="name"/>.</summary>
    public float ValueAt(string name, long index)
    {
        Qwen2Parameter parameter = Lookup(name);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, parameter.ElementCount);
        return Value(NameHash(name), (ulong)index, parameter.Kind);
    }

    private Qwen2Parameter Lookup(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _parameters.TryGetValue(name, out Qwen2Parameter? p)
            ? p
            : throw new ArgumentException($"Unknown Qwen2 parameter '{name}'.", nameof(name));
    }

    private ulong NameHash(string name)
    {
        ulong h = FnvOffsetBasis;
        foreach (byte b in Encoding.UTF8.GetBytes(name))
        {
            h ^= b;
            h *= FnvPrime;
        }
        return h ^ _seedMix;
    }

    private static unsafe void FillParallel(Span<float> destination, ulong h, ParameterKind kind)
    {
        int length = destination.Length;
        int chunks = (length + ChunkSize - 1) / ChunkSize;
        // Each element depends only on its own index, so chunking cannot change the values.
        fixed (float* pinned = destination)
        {
            nint address = (nint)pinned;
            Parallel.For(0, chunks, c =>
            {
                int start = c * ChunkSize;
                int count = Math.Min(ChunkSize, length - start);
                FillRange(new Span<float>((float*)address + start, count), start, h, kind);
            });
        }
    }

    private static void FillRange(Span<float> destination, long start, ulong h, ParameterKind kind)
    {
        for (int i = 0; i < destination.Length; i++)
            destination[i] = Value(h, (ulong)(start + i), kind);
    }

    private static float Value(ulong h, ulong index, ParameterKind kind)
    {
        ulong z = Mix(h ^ (index * Golden));
        // 24 high bits -> exact float32 in [-1, 1).
        float u = (float)((z >> 40) / 16777216.0 * 2.0 - 1.0);
        return kind switch
        {
            ParameterKind.Linear or ParameterKind.Embedding => 0.25f * u,
            ParameterKind.Bias => 0.1f * u,
            ParameterKind.Norm => 1.0f + 0.1f * u,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    /// <summary>The splitmix64 finalizer.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
