using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Qwen.Inference.Generation;

/// <summary>
/// Chooses the next token from one sequence's logits, in Hugging Face <c>generate</c> order: repetition
/// penalty, then argmax when greedy, else temperature, top-k, top-p and a draw from the softmax of what is left.
/// Use one instance per sequence: it owns the random state, so a sequence's draws never depend on the others
/// in a batch. Not thread-safe; scratch buffers are reused across calls.
/// </summary>
public sealed class TokenSampler
{
    private readonly GenerationOptions _options;
    private readonly SeededRandom _random;

    private float[] _logits = [];   // penalised (and, when sampling, tempered) copy of the caller's logits
    private double[] _weights = []; // unnormalised probabilities of the candidates; 0 once filtered out
    private int[] _ids = [];        // candidate token ids in ascending order; also radix-select scratch
    private NucleusFilter? _nucleus;

    /// <exception cref="InvalidGenerationOptionsException">An option is out of range for any vocabulary.</exception>
    public TokenSampler(GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ValidateSampling();
        _options = options;
        _random = new SeededRandom(options.Seed ?? FreshSeed());
    }

    public GenerationOptions Options => _options;

    /// <summary>The next token id. Sampling consumes exactly one random draw; greedy decoding none.</summary>
    /// <param name="logits">Next-token logits over the vocabulary; not modified. NaN is rejected.</param>
    /// <param name="seenTokens">Prompt and generated ids so far, for the repetition penalty; duplicates are fine.</param>
    public int Next(ReadOnlySpan<float> logits, IReadOnlyCollection<int> seenTokens)
    {
        float max = Prepare(logits, seenTokens);
        Span<float> values = _logits.AsSpan(0, logits.Length);
        if (_options.IsGreedy) return ArgMax(values, max);

        int count = SelectCandidates(values, max); // may replace _weights, so read the field after it
        Span<double> weights = _weights.AsSpan(0, count);
        double target = _random.NextDouble() * TensorPrimitives.Sum(weights);

        // Walk the candidates in id order; a removed one adds 0, so it can never be the one that crosses.
        double cumulative = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            cumulative += weights[i];
            if (cumulative > target) return _ids[i];
        }
        // Rounding left the target at the very end: take the last token that has probability.
        int last = weights.Length - 1;
        while (weights[last] <= 0) last--;
        return _ids[last];
    }

    /// <summary>The distribution <see cref="Next"/> draws from (one-hot on the argmax when greedy).</summary>
    internal void ComputeProbabilities(ReadOnlySpan<float> logits, IReadOnlyCollection<int> seenTokens, Span<double> probs)
    {
        if (probs.Length != logits.Length)
            throw new ArgumentException($"probs has {probs.Length} entries but logits has {logits.Length}", nameof(probs));
        float max = Prepare(logits, seenTokens);
        Span<float> values = _logits.AsSpan(0, logits.Length);
        probs.Clear();
        if (_options.IsGreedy)
        {
            probs[ArgMax(values, max)] = 1;
            return;
        }

        int count = SelectCandidates(values, max);
        Span<double> weights = _weights.AsSpan(0, count);
        double total = TensorPrimitives.Sum(weights);
        for (int i = 0; i < count; i++) probs[_ids[i]] = weights[i] / total;
    }

    /// <summary>Fills the scratch logits with the processed scores and returns their maximum.</summary>
    private float Prepare(ReadOnlySpan<float> logits, IReadOnlyCollection<int> seenTokens)
    {
        if (logits.IsEmpty) throw new ArgumentException("logits must not be empty", nameof(logits));
        ArgumentNullException.ThrowIfNull(seenTokens);
        int n = logits.Length;
        EnsureLength(ref _logits, n);
        Span<float> values = _logits.AsSpan(0, n);
        logits.CopyTo(values);

        RepetitionPenalty.Apply(logits, values, seenTokens, _options.RepetitionPenalty);
        if (!_options.IsGreedy && _options.Temperature != 1) TensorPrimitives.Divide(values, _options.Temperature, values);

        // Max returns NaN if any entry is NaN; neither the penalty nor the temperature can create one.
        float max = TensorPrimitives.Max(values);
        if (float.IsNaN(max))
            throw new ArgumentException($"logits contain NaN (first at index {FirstNaN(logits)})", nameof(logits));
        return max;
    }

    private static int FirstNaN(ReadOnlySpan<float> logits)
    {
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNaN(logits[i])) return i;
        }
        return -1;
    }

    /// <summary>Lowest index holding the maximum, as <c>torch.argmax</c>.</summary>
    private static int ArgMax(ReadOnlySpan<float> values, float max)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] == max) return i;
        }
        throw new InvalidOperationException("the maximum is not in the span");
    }

    /// <summary>
    /// Applies top-k and top-p, leaving the candidate ids in <see cref="_ids"/> (ascending) and their
    /// unnormalised probabilities exp(logit - max) in <see cref="_weights"/>, zero where top-p removed them.
    /// </summary>
    /// <returns>Number of candidates.</returns>
    private int SelectCandidates(ReadOnlySpan<float> values, float max)
    {
        if (float.IsNegativeInfinity(max))
            throw new ArgumentException(
                $"every logit is -infinity after the repetition penalty and temperature {_options.Temperature}, so there is no token to sample",
                "logits");

        int n = values.Length;
        EnsureLength(ref _ids, n);
        int count;
        if (_options.TopK > 0 && _options.TopK < n)
        {
            float kth = KthLargest.Find(values, _options.TopK, MemoryMarshal.Cast<int, uint>(_ids.AsSpan(0, n)));
            count = 0;
            for (int id = 0; id < n; id++)
            {
                if (values[id] >= kth) _ids[count++] = id;
            }
            EnsureLength(ref _weights, count);
            for (int i = 0; i < count; i++) _weights[i] = values[_ids[i]];
        }
        else
        {
            count = n;
            for (int id = 0; id < n; id++) _ids[id] = id;
            EnsureLength(ref _weights, n);
            TensorPrimitives.ConvertChecked<float, double>(values, _weights.AsSpan(0, n));
        }
        ToWeights(_weights.AsSpan(0, count), max);

        if (_options.TopP < 1)
        {
            _nucleus ??= new NucleusFilter();
            count = _nucleus.Apply(values, _ids.AsSpan(0, count), _weights.AsSpan(0, count), _options.TopP);
        }
        return count;
    }

    /// <summary>exp(logit - max) in double, in place; at an infinite maximum, the limit: uniform over the infinite logits.</summary>
    private static void ToWeights(Span<double> logits, float max)
    {
        if (float.IsPositiveInfinity(max))
        {
            foreach (ref double x in logits) x = double.IsPositiveInfinity(x) ? 1 : 0;
            return;
        }
        TensorPrimitives.Subtract(logits, (double)max, logits);
        TensorPrimitives.Exp(logits, logits);
    }

    private static void EnsureLength<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new T[length];
    }

    private static ulong FreshSeed()
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        RandomNumberGenerator.Fill(bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }
}
