namespace Qwen.Cli.Workload;

/// <summary>The two jobs of the service a load generator asks for.</summary>
internal enum WorkloadTask
{
    Sentiment,
    Chat,
}

internal static class WorkloadTaskNames
{
    public static string Name(this WorkloadTask task) => task == WorkloadTask.Sentiment ? "sentiment" : "chat";
}
