using Qwen.Silo.Storage.Postgres;

namespace Qwen.Silo.Hosting;

/// <summary>Creates or migrates the registered schema modules before anything else touches the database.</summary>
public sealed class SchemaMigrationService(PostgresSchemaMigrator migrator) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => migrator.MigrateAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
