using System.Text.Json;
using System.Text.Json.Serialization;

namespace Qwen.Cluster.Transport;

/// <summary>JSON settings shared by silo endpoints and their clients.</summary>
public static class TransportJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
    };
}
