namespace Qwen.Cluster.Transport;

/// <summary>The HTTP paths a silo serves to the Api (internal to the cluster, not public).</summary>
public static class SiloRoutes
{
    public const string Conversation = "/silo/conversations/{userId}";
    public const string Turns = "/silo/conversations/{userId}/turns";
    public const string TurnStream = "/silo/conversations/{userId}/turns/stream";
    public const string Sentiment = "/silo/sentiment";
    public const string Generate = "/silo/generate";
    public const string Status = "/silo/status";

    /// <summary>POST: a cold silo loads its model and becomes active (202 while loading, 200 once active).</summary>
    public const string Warmup = "/silo/warmup";

    /// <summary>GET: the silo's inference worker load snapshot (<c>WorkerLoad</c>), read-only.</summary>
    public const string WorkerLoad = "/silo/worker/load";

    /// <summary>The silo's own metrics in the Prometheus text format (also scraped by the Api).</summary>
    public const string Metrics = "/metrics";

    public static string ConversationOf(string userId) => $"/silo/conversations/{Uri.EscapeDataString(userId)}";
    public static string TurnsOf(string userId) => ConversationOf(userId) + "/turns";
    public static string TurnStreamOf(string userId) => ConversationOf(userId) + "/turns/stream";
}
