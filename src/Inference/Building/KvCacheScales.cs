namespace Qwen.Inference.Building;

/// <summary>
/// The fixed per-channel scales of an int8 KV cache: for each layer, one scale per (KV head,
/// head dimension) for keys and one for values, laid out [kv_heads × head_dim]. A cached element
/// is round(x / scale), clipped to [-128, 127].
/// </summary>
public sealed class KvCacheScales
{
    private readonly (float[] Key, float[] Value)[] _layers;

    public KvCacheScales(IEnumerable<(float[] Key, float[] Value)> layers)
    {
        _layers = [.. layers];
        if (_layers.Length == 0) throw new ArgumentException("at least one layer's scales", nameof(layers));
        int channels = _layers[0].Key.Length;
        if (_layers.Any(l => l.Key.Length != channels || l.Value.Length != channels || l.Key.Concat(l.Value).Any(v => !(v > 0) || !float.IsFinite(v))))
            throw new ArgumentException("every layer needs positive, finite key and value scales, the same number of each", nameof(layers));
    }

    public int Layers => _layers.Length;

    public (float[] Key, float[] Value) this[int layer] => _layers[layer];
}
