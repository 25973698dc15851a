using Qwen.Cluster.Membership;
using Qwen.Cluster.Schema;
using Qwen.Silo.Storage;

namespace Qwen.Silo.Hosting;

/// <summary>
/// Every schema module of a cluster database: what a silo migrates at start and what
/// <c>qwen db migrate</c> applies ahead of time, so both always agree.
/// </summary>
public static class ClusterSchema
{
    public static IReadOnlyList<SchemaModule> Modules { get; } = [MembershipSchema.Module, ConversationSchema.Module];
}
