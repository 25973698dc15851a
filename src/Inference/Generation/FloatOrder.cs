namespace Qwen.Inference.Generation;

/// <summary>
/// Maps floats to unsigned keys with the same order (-inf lowest, +inf highest), so selection and sorting
/// can work on plain integers. NaN is never passed in: the sampler rejects NaN logits first.
/// </summary>
internal static class FloatOrder
{
    public static uint ToKey(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        // Negative floats order backwards by magnitude, so flip all their bits; positives just move above them.
        // Branch-free: logit signs are random, and a mispredicted branch per logit dominated selection time.
        uint mask = (uint)((int)bits >> 31) | 0x8000_0000u;
        return bits ^ mask;
    }

    public static float FromKey(uint key)
    {
        uint bits = (key & 0x8000_0000u) != 0 ? key & 0x7FFF_FFFFu : ~key;
        return BitConverter.UInt32BitsToSingle(bits);
    }
}
