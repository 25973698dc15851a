namespace Qwen.Silo.Storage.Postgres;

/// <summary>
/// The tables one component owns, as numbered migrations applied in order (1, 2, 3, ...).
/// A released migration never changes; later changes are new migrations.
/// </summary>
public sealed record SchemaModule(string Name, IReadOnlyList<SchemaMigration> Migrations);

/// <param name="Sql">One or more statements; runs inside the migrator's transaction.</param>
public sealed record SchemaMigration(int Version, string Description, string Sql);

public sealed record AppliedMigration(string Module, int Version, string Description);
