using Qwen.Cluster.Membership;
using Xunit;

namespace Qwen.Cluster.Tests.Membership;

public sealed class InMemoryMembershipTableTests : MembershipTableContract
{
    protected override Task<IMembershipTable> CreateEmptyTableAsync() => Task.FromResult<IMembershipTable>(new InMemoryMembershipTable());
}
