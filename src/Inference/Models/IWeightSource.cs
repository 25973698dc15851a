namespace Qwen.Inference.Models;

/// <summary>
/// Supplies float32 parameter values by their Hugging Face Qwen2 name
/// (e.g. <c>model.layers.0.self_attn.q_proj.weight</c>), row-major in Hugging Face shape
/// (<c>[out_features, in_features]</c> for linear weights).
/// </summary>
public interface IWeightSource
{
    /// <summary>Fills <paramref name="destination"/> (whose length is the tensor's element count) with the tensor's values.</summary>
    void Fill(string name, Span<float> destination);
}
