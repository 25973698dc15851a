namespace Qwen.Inference.Engine;

/// <summary>
/// Where a prompt may be cut into chunks (model calls of several tokens after its cached ones)
/// without changing a single bit of any position's KV or logits.
/// </summary>
/// <remarks>
/// ONNX Runtime's CPU GroupQueryAttention computes a chunk's rows alike whatever its length,
/// except in two cases, which compute a row differently in the last bits: a one-token chunk (the
/// single-row product of decoding), and, with a float32 KV cache, the last row of a chunk of
/// 32k + 1 tokens (measured on ORT 1.32: every other length agrees; the linears are not
/// involved). A prompt cut only into exact chunks therefore computes the same bits however the
/// cuts fall, which is what lets the engine cut prompts wherever its step budget ends.
/// <c>PromptChunkingTests</c> checks it.
/// </remarks>
public static class PromptChunking
{
    private const int RowBlock = 32;

    /// <summary>Whether a chunk of <paramref name="tokens"/> tokens computes every row as any other exact cut would.</summary>
    public static bool IsExact(int tokens) => tokens >= 2 && tokens % RowBlock != 1;

    /// <summary>
    /// The width of the next chunk of a prompt with <paramref name="remaining"/> tokens still to
    /// compute: as close to <paramref name="budget"/> as possible (at least two tokens), such that
    /// the chunk and every chunk after it can be exact. <paramref name="trailing"/> tokens (a
    /// probe's cue) ride in the prompt's last chunk and count toward its length. A one-token
    /// prompt is one token: it has no other cut.
    /// </summary>
    public static int NextWidth(int remaining, int budget, int trailing = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(remaining, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(trailing);
        if (remaining == 1) return 1;
        int target = Math.Clamp(budget, 2, remaining);
        for (int width = target; width >= 2; width--)
        {
            if (Fits(width)) return width;
        }
        for (int width = target + 1; width <= remaining; width++)
        {
            if (Fits(width)) return width;
        }
        return remaining; // only a cue of 31 (mod 32) tokens after a prompt of two or three gets here

        // Any rest of two or more tokens can itself be cut into exact chunks.
        bool Fits(int width) => width == remaining ? IsExact(width + trailing) : remaining - width >= 2 && IsExact(width);
    }

    /// <summary>The widths of a whole prompt cut into chunks of at most about <paramref name="budget"/> tokens (see <see cref="NextWidth"/>).</summary>
    public static IReadOnlyList<int> Widths(int tokens, int budget, int trailing = 0)
    {
        var widths = new List<int>();
        for (int done = 0; done < tokens;)
        {
            int width = NextWidth(tokens - done, budget, trailing);
            widths.Add(width);
            done += width;
        }
        return widths;
    }
}
