using System.Globalization;

namespace Qwen.Cli.Workload;

/// <summary>How often each task is asked for, e.g. "sentiment=0.5,chat=0.5" (weights, normalised).</summary>
internal sealed record WorkloadMix(double SentimentShare)
{
    public static WorkloadMix Even { get; } = new(0.5);

    public double ChatShare => 1 - SentimentShare;

    public WorkloadTask Pick(Random random) => random.NextDouble() < SentimentShare ? WorkloadTask.Sentiment : WorkloadTask.Chat;

    /// <exception cref="FormatException">Not a list of known task weights with a positive sum.</exception>
    public static WorkloadMix Parse(string text, string optionName)
    {
        double sentiment = 0, chat = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new FormatException($"{optionName}: '{part}' is not TASK=WEIGHT (tasks: sentiment, chat)");
            string task = part[..eq].Trim().ToLowerInvariant();
            if (!double.TryParse(part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double weight)
                || !double.IsFinite(weight) || weight < 0)
            {
                throw new FormatException($"{optionName}: the weight of '{task}' must be a number >= 0 but was '{part[(eq + 1)..]}'");
            }
            if (!seen.Add(task)) throw new FormatException($"{optionName}: '{task}' is given twice");
            switch (task)
            {
                case "sentiment": sentiment = weight; break;
                case "chat": chat = weight; break;
                default: throw new FormatException($"{optionName}: unknown task '{task}' (tasks: sentiment, chat)");
            }
        }
        if (sentiment + chat <= 0) throw new FormatException($"{optionName}: the weights must add up to more than 0");
        return new WorkloadMix(sentiment / (sentiment + chat));
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"sentiment={SentimentShare:0.###},chat={ChatShare:0.###}");
}
