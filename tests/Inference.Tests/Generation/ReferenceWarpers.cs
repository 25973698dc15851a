using Qwen.Inference.Generation;

namespace Qwen.Inference.Tests.Generation;

/// <summary>
/// The Hugging Face logits pipeline written the obvious way, to check the fast sampler against: full sorts,
/// LINQ, double precision for the softmaxes. Float steps (penalty, temperature) stay float, as on HF's float32 tensors.
/// </summary>
internal static class ReferenceWarpers
{
    public static double[] Probabilities(float[] logits, IEnumerable<int> seen, GenerationOptions options)
    {
        int n = logits.Length;
        float[] scores = (float[])logits.Clone();
        foreach (int id in seen.Distinct())
        {
            float score = logits[id];
            scores[id] = score < 0 ? score * options.RepetitionPenalty : score / options.RepetitionPenalty;
        }

        var probs = new double[n];
        if (options.IsGreedy)
        {
            int best = 0;
            for (int i = 1; i < n; i++) if (scores[i] > scores[best]) best = i;
            probs[best] = 1;
            return probs;
        }

        for (int i = 0; i < n; i++) scores[i] /= options.Temperature;
        double[] x = scores.Select(s => (double)s).ToArray();

        if (options.TopK > 0)
        {
            // TopKLogitsWarper: remove scores < topk(scores)[0][..., -1].
            double kth = x.OrderByDescending(v => v).ElementAt(Math.Min(options.TopK, n) - 1);
            for (int i = 0; i < n; i++) if (x[i] < kth) x[i] = double.NegativeInfinity;
        }

        if (options.TopP < 1)
        {
            // TopPLogitsWarper: ascending sort (equal scores: higher id first, so the lower id is kept longer),
            // cumulative softmax, remove where <= 1 - top_p, but never the last (most probable) one.
            int[] order = Enumerable.Range(0, n).OrderBy(i => x[i]).ThenByDescending(i => i).ToArray();
            double[] sorted = Softmax(order.Select(i => x[i]).ToArray());
            double cumulative = 0;
            for (int r = 0; r < n - 1; r++)
            {
                cumulative += sorted[r];
                if (cumulative <= 1 - (double)options.TopP) x[order[r]] = double.NegativeInfinity;
            }
        }
        return Softmax(x);
    }

    private static double[] Softmax(double[] x)
    {
        double max = x.Max();
        double[] e = x.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }
}
