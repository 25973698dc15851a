namespace Qwen.Inference.Models;

/// <summary>How a parameter is used; decides its initialisation in synthetic weight sources.</summary>
public enum ParameterKind
{
    Linear,
    Bias,
    Norm,
    Embedding,
}

/// <summary>One Qwen2 parameter: Hugging Face name, row-major Hugging Face shape and kind.</summary>
public sealed record Qwen2Parameter(string Name, int[] Shape, ParameterKind Kind)
{
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (int dim in Shape) count *= dim;
            return count;
        }
    }
}

/// <summary>The full Qwen2 parameter list, in Hugging Face checkpoint order.</summary>
public static class Qwen2Parameters
{
    public static IReadOnlyList<Qwen2Parameter> For(QwenConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        int hidden = c.HiddenSize;
        int qDim = c.NumAttentionHeads * c.HeadDim;
        int kvDim = c.NumKeyValueHeads * c.HeadDim;
        int inter = c.IntermediateSize;

        var list = new List<Qwen2Parameter>
        {
            new("model.embed_tokens.weight", [c.VocabSize, hidden], ParameterKind.Embedding),
        };
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            list.Add(new(p + "input_layernorm.weight", [hidden], ParameterKind.Norm));
            list.Add(new(p + "self_attn.q_proj.weight", [qDim, hidden], ParameterKind.Linear));
            list.Add(new(p + "self_attn.q_proj.bias", [qDim], ParameterKind.Bias));
            list.Add(new(p + "self_attn.k_proj.weight", [kvDim, hidden], ParameterKind.Linear));
            list.Add(new(p + "self_attn.k_proj.bias", [kvDim], ParameterKind.Bias));
            list.Add(new(p + "self_attn.v_proj.weight", [kvDim, hidden], ParameterKind.Linear));
            list.Add(new(p + "self_attn.v_proj.bias", [kvDim], ParameterKind.Bias));
            list.Add(new(p + "self_attn.o_proj.weight", [hidden, qDim], ParameterKind.Linear));
            list.Add(new(p + "post_attention_layernorm.weight", [hidden], ParameterKind.Norm));
            list.Add(new(p + "mlp.gate_proj.weight", [inter, hidden], ParameterKind.Linear));
            list.Add(new(p + "mlp.up_proj.weight", [inter, hidden], ParameterKind.Linear));
            list.Add(new(p + "mlp.down_proj.weight", [hidden, inter], ParameterKind.Linear));
        }
        list.Add(new("model.norm.weight", [hidden], ParameterKind.Norm));
        if (!c.TieWordEmbeddings)
            list.Add(new("lm_head.weight", [c.VocabSize, hidden], ParameterKind.Linear));
        return list;
    }

    /// <summary>Total number of parameters (tied embeddings counted once).</summary>
    public static long TotalElementCount(QwenConfig c) => For(c).Sum(p => p.ElementCount);
}
