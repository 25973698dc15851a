using Qwen.Inference.Runtime;

namespace Qwen.Inference.Engine;

/// <summary>The logits one decoder step produced, [batch, positions, vocab], read in place.</summary>
public sealed class StepLogits : IDisposable
{
    private readonly OrtValue _value;

    internal StepLogits(OrtValue value)
    {
        _value = value;
        var shape = value.Shape;
        BatchSize = (int)shape[0];
        Positions = (int)shape[1];
        VocabSize = (int)shape[2];
    }

    public int BatchSize { get; }

    /// <summary>How many trailing positions have logits (1 when only the last was kept).</summary>
    public int Positions { get; }

    public int VocabSize { get; }

    /// <summary>Logits of sequence <paramref name="batchIndex"/> at kept position <paramref name="position"/>.</summary>
    public ReadOnlySpan<float> Row(int batchIndex, int position) =>
        _value.GetTensorSpan<float>().Slice((batchIndex * Positions + position) * VocabSize, VocabSize);

    /// <summary>Logits of sequence <paramref name="batchIndex"/> at its last position.</summary>
    public ReadOnlySpan<float> Last(int batchIndex) => Row(batchIndex, Positions - 1);

    public void Dispose() => _value.Dispose();
}
