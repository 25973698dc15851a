using System.Collections.Concurrent;
using System.Numerics.Tensors;
using Qwen.Inference.Models;

namespace Qwen.Inference.Reference;

/// <summary>
/// The executable specification of the Qwen2 forward pass (Hugging Face semantics): plain float32
/// loops, no cache, no batching, written to be read top to bottom. It holds every weight in memory,
/// so it is meant for tiny configurations and as the yardstick faster engines are tested against.
/// </summary>
public sealed class ReferenceQwen2
{
    private sealed class Layer
    {
        public required float[] InputNorm, Wq, Bq, Wk, Bk, Wv, Bv, Wo, PostNorm, Gate, Up, Down;
    }

    private readonly QwenConfig _c;
    private readonly float[] _embed;   // [vocab, hidden]
    private readonly Layer[] _layers;
    private readonly float[] _finalNorm; // [hidden]
    private readonly float[] _lmHead;  // [vocab, hidden]; the embedding itself when tied

    public ReferenceQwen2(QwenConfig config, IWeightSource weights)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        _c = config.Validate();
        var shapes = Qwen2Parameters.For(config).ToDictionary(p => p.Name);

        float[] Load(string name)
        {
            var data = new float[checked((int)shapes[name].ElementCount)];
            weights.Fill(name, data);
            return data;
        }

        _embed = Load("model.embed_tokens.weight");
        _layers = new Layer[config.NumHiddenLayers];
        for (int l = 0; l < _layers.Length; l++)
        {
            string p = $"model.layers.{l}.";
            _layers[l] = new Layer
            {
                InputNorm = Load(p + "input_layernorm.weight"),
                Wq = Load(p + "self_attn.q_proj.weight"),
                Bq = Load(p + "self_attn.q_proj.bias"),
                Wk = Load(p + "self_attn.k_proj.weight"),
                Bk = Load(p + "self_attn.k_proj.bias"),
                Wv = Load(p + "self_attn.v_proj.weight"),
                Bv = Load(p + "self_attn.v_proj.bias"),
                Wo = Load(p + "self_attn.o_proj.weight"),
                PostNorm = Load(p + "post_attention_layernorm.weight"),
                Gate = Load(p + "mlp.gate_proj.weight"),
                Up = Load(p + "mlp.up_proj.weight"),
                Down = Load(p + "mlp.down_proj.weight"),
            };
        }
        _finalNorm = Load("model.norm.weight");
        _lmHead = config.TieWordEmbeddings ? _embed : Load("lm_head.weight");
    }

    /// <summary>Logits <c>[position][vocab]</c> for every position of <paramref name="inputIds"/> (causal).</summary>
    public float[][] Forward(IReadOnlyList<int> inputIds)
    {
        float[][] hidden = FinalHiddenStates(inputIds);
        return hidden.Select(LmHead).ToArray();
    }

    /// <summary>Logits of the last position only: the next-token distribution.</summary>
    public float[] LastLogits(IReadOnlyList<int> inputIds)
    {
        float[][] hidden = FinalHiddenStates(inputIds);
        return LmHead(hidden[^1]);
    }

    /// <summary>Runs embedding, all decoder layers and the final norm; returns <c>[position][hidden]</c>.</summary>
    private float[][] FinalHiddenStates(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0) throw new ArgumentException("At least one token is required.", nameof(ids));

        int n = ids.Count;
        int dim = _c.HiddenSize;
        int heads = _c.NumAttentionHeads;
        int kvHeads = _c.NumKeyValueHeads;
        int headDim = _c.HeadDim;
        int group = _c.GroupSize;
        float scale = 1.0f / MathF.Sqrt(headDim);

        // x = embed[ids]
        var x = new float[n][];
        for (int t = 0; t < n; t++)
        {
            int id = ids[t];
            if ((uint)id >= (uint)_c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {id} is outside the vocabulary.");
            x[t] = _embed.AsSpan(id * dim, dim).ToArray();
        }

        (float[][] cos, float[][] sin) = RotaryTables(n);

        foreach (Layer layer in _layers)
        {
            // --- self-attention block ---
            var q = new float[n][];
            var k = new float[n][];
            var v = new float[n][];
            for (int t = 0; t < n; t++)
            {
                float[] h = RmsNorm(x[t], layer.InputNorm);
                q[t] = Linear(h, layer.Wq, layer.Bq, heads * headDim);
                k[t] = Linear(h, layer.Wk, layer.Bk, kvHeads * headDim);
                v[t] = Linear(h, layer.Wv, layer.Bv, kvHeads * headDim);
                ApplyRotary(q[t], heads, headDim, cos[t], sin[t]);
                ApplyRotary(k[t], kvHeads, headDim, cos[t], sin[t]);
            }

            for (int t = 0; t < n; t++)
            {
                var attn = new float[heads * headDim];
                var scores = new float[t + 1];
                for (int hq = 0; hq < heads; hq++)
                {
                    int hk = hq / group; // grouped-query attention: query heads share a kv head
                    ReadOnlySpan<float> qh = q[t].AsSpan(hq * headDim, headDim);

                    // causal: position t sees positions 0..t only
                    for (int s = 0; s <= t; s++)
                        scores[s] = TensorPrimitives.Dot(qh, k[s].AsSpan(hk * headDim, headDim)) * scale;
                    Softmax(scores);

                    Span<float> outHead = attn.AsSpan(hq * headDim, headDim);
                    for (int s = 0; s <= t; s++)
                    {
                        ReadOnlySpan<float> vh = v[s].AsSpan(hk * headDim, headDim);
                        for (int i = 0; i < headDim; i++) outHead[i] += scores[s] * vh[i];
                    }
                }
                float[] o = Linear(attn, layer.Wo, null, dim);
                for (int i = 0; i < dim; i++) x[t][i] += o[i];
            }

            // --- MLP block (SwiGLU) ---
            for (int t = 0; t < n; t++)
            {
                float[] h = RmsNorm(x[t], layer.PostNorm);
                float[] gate = Linear(h, layer.Gate, null, _c.IntermediateSize);
                float[] up = Linear(h, layer.Up, null, _c.IntermediateSize);
                for (int i = 0; i < gate.Length; i++) gate[i] = Silu(gate[i]) * up[i];
                float[] down = Linear(gate, layer.Down, null, dim);
                for (int i = 0; i < dim; i++) x[t][i] += down[i];
            }
        }

        for (int t = 0; t < n; t++) x[t] = RmsNorm(x[t], _finalNorm);
        return x;
    }

    /// <summary>
    /// cos/sin of the rotary angles per position, <c>[position][headDim/2]</c>. Like Hugging Face,
    /// inv_freq and the angles are float32 and only cos/sin are evaluated from them.
    /// </summary>
    private (float[][] Cos, float[][] Sin) RotaryTables(int n)
    {
        int half = _c.HeadDim / 2;
        var invFreq = new float[half];
        for (int j = 0; j < half; j++)
        {
            float exponent = (2 * j) / (float)_c.HeadDim;
            invFreq[j] = 1.0f / (float)Math.Pow(_c.RopeTheta, exponent);
        }

        var cos = new float[n][];
        var sin = new float[n][];
        for (int pos = 0; pos < n; pos++)
        {
            cos[pos] = new float[half];
            sin[pos] = new float[half];
            for (int j = 0; j < half; j++)
            {
                float angle = pos * invFreq[j];
                cos[pos][j] = (float)Math.Cos(angle);
                sin[pos][j] = (float)Math.Sin(angle);
            }
        }
        return (cos, sin);
    }

    /// <summary>Rotate-half rotary embedding, in place, on each head of <paramref name="x"/>.</summary>
    private static void ApplyRotary(float[] x, int heads, int headDim, float[] cos, float[] sin)
    {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
        {
            Span<float> v = x.AsSpan(h * headDim, headDim);
            for (int i = 0; i < half; i++)
            {
                float a = v[i];
                float b = v[i + half];
                v[i] = a * cos[i] - b * sin[i];
                v[i + half] = b * cos[i] + a * sin[i];
            }
        }
    }

    /// <summary>x / sqrt(mean(x²) + eps) * weight, in float32.</summary>
    private float[] RmsNorm(float[] x, float[] weight)
    {
        float sumSq = 0f;
        foreach (float value in x) sumSq += value * value;
        float inv = 1.0f / MathF.Sqrt(sumSq / x.Length + (float)_c.RmsNormEps);
        var result = new float[x.Length];
        for (int i = 0; i < x.Length; i++) result[i] = weight[i] * (x[i] * inv);
        return result;
    }

    /// <summary>y = x·Wᵀ + b with W row-major <c>[outFeatures, inFeatures]</c>.</summary>
    private static float[] Linear(float[] x, float[] w, float[]? bias, int outFeatures)
    {
        int inFeatures = x.Length;
        var y = new float[outFeatures];
        for (int o = 0; o < outFeatures; o++)
            y[o] = TensorPrimitives.Dot(w.AsSpan(o * inFeatures, inFeatures), x) + (bias?[o] ?? 0f);
        return y;
    }

    /// <summary>Logits = x·lm_headᵀ; parallel over the (large) vocabulary.</summary>
    private float[] LmHead(float[] x)
    {
        int dim = x.Length;
        var logits = new float[_c.VocabSize];
        Parallel.ForEach(Partitioner.Create(0, _c.VocabSize, 4096), range =>
        {
            for (int token = range.Item1; token < range.Item2; token++)
                logits[token] = TensorPrimitives.Dot(_lmHead.AsSpan(token * dim, dim), x);
        });
        return logits;
    }

    private static void Softmax(Span<float> scores)
    {
        float max = TensorPrimitives.Max(scores);
        float sum = 0f;
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i] = MathF.Exp(scores[i] - max);
            sum += scores[i];
        }
        for (int i = 0; i < scores.Length; i++) scores[i] /= sum;
    }

    private static float Silu(float x) => x / (1.0f + MathF.Exp(-x));
}
