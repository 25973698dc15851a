using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Engine;

/// <summary>
/// The logits of a call with prompt lanes (<see cref="DecoderSession.StepMixed"/>): one position
/// per decode row, and each chunk's kept trailing positions, read in place.
/// </summary>
public sealed class MixedStepLogits : IDisposable
{
    private readonly OrtValue _value;
    private readonly StepLogits _all;
    private readonly StepLogits[] _chunks;

    internal MixedStepLogits(OrtValue value, int[] chunkRows, int[] chunkKept)
    {
        _value = value;
        _all = new StepLogits(value, 0, 1, (int)value.GetTensorTypeAndShape().Shape[1], ownsValue: false);
        _chunks = [.. chunkRows.Select((row, k) => new StepLogits(value, row, 1, chunkKept[k], ownsValue: false))];
    }

    /// <summary>The logits of decode row <paramref name="row"/> (in the order the call was given its rows; they come first).</summary>
    public ReadOnlySpan<float> Decode(int row) => _all.Row(0, row);

    /// <summary>The kept positions of chunk <paramref name="index"/>, as [1, kept, vocab].</summary>
    public StepLogits Chunk(int index) => _chunks[index];

    public void Dispose()
    {
        _all.Dispose();
        foreach (var chunk in _chunks) chunk.Dispose();
        _value.Dispose();
    }
}
