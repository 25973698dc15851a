using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Engine;

/// <summary>The logits one decoder step produced, [batch, positions, vocab], read in place.</summary>
public sealed unsafe class StepLogits : IDisposable
{
    private readonly OrtValue _value;
    // Looked up once: ORT's span accessors query the tensor's shape on every call. The data is
    // native memory the value owns, so the address holds until disposal.
    private readonly float* _data;
    private bool _disposed;

    private readonly bool _ownsValue;

    internal StepLogits(OrtValue value)
    {
        _value = value;
        _ownsValue = true;
        long[] shape = value.GetTensorTypeAndShape().Shape;
        BatchSize = (int)shape[0];
        Positions = (int)shape[1];
        VocabSize = (int)shape[2];
        fixed (byte* data = value.GetTensorMutableRawData()) _data = (float*)data;
    }

    /// <summary>
    /// Rows [<paramref name="firstRow"/>, firstRow + batch × positions) of a [1, rows, vocab] value
    /// read as [batch, positions, vocab]; the value is disposed with this view only if <paramref name="ownsValue"/>.
    /// </summary>
    internal StepLogits(OrtValue value, int firstRow, int batch, int positions, bool ownsValue)
    {
        _value = value;
        _ownsValue = ownsValue;
        long[] shape = value.GetTensorTypeAndShape().Shape;
        VocabSize = (int)shape[2];
        if (firstRow < 0 || firstRow + (long)batch * positions > shape[0] * shape[1])
            throw new ArgumentOutOfRangeException(nameof(firstRow), "the view lies outside the logits");
        BatchSize = batch;
        Positions = positions;
        fixed (byte* data = value.GetTensorMutableRawData()) _data = (float*)data + (long)firstRow * VocabSize;
    }

    public int BatchSize { get; }

    /// <summary>How many trailing positions have logits (1 when only the last was kept).</summary>
    public int Positions { get; }

    public int VocabSize { get; }

    /// <summary>Logits of sequence <paramref name="batchIndex"/> at kept position <paramref name="position"/>.</summary>
    public ReadOnlySpan<float> Row(int batchIndex, int position)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)batchIndex >= (uint)BatchSize) throw new ArgumentOutOfRangeException(nameof(batchIndex));
        if ((uint)position >= (uint)Positions) throw new ArgumentOutOfRangeException(nameof(position));
        return new ReadOnlySpan<float>(_data + ((long)batchIndex * Positions + position) * VocabSize, VocabSize);
    }

    /// <summary>Logits of sequence <paramref name="batchIndex"/> at its last position.</summary>
    public ReadOnlySpan<float> Last(int batchIndex) => Row(batchIndex, Positions - 1);

    public void Dispose()
    {
        _disposed = true;
        if (_ownsValue) _value.Dispose();
    }
}
