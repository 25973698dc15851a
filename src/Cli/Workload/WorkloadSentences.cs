using System.Reflection;

namespace Qwen.Cli.Workload;

/// <summary>
/// The load generators' inputs: a few hundred natural Chinese and English sentences of 15–45
/// characters (the original stress test's input range), from deploy/loadtest/sentences.txt.
/// </summary>
internal static class WorkloadSentences
{
    public const int MinChars = 15;
    public const int MaxChars = 45;

    private static readonly Lazy<IReadOnlyList<string>> Lines = new(Load);

    public static IReadOnlyList<string> All => Lines.Value;

    public static string Pick(Random random) => All[random.Next(All.Count)];

    private static IReadOnlyList<string> Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Qwen.Cli.Workload.sentences.txt")
            ?? throw new InvalidOperationException("the workload sentences are not embedded in the qwen tool");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
