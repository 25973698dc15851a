using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using Qwen.Grains.Persistence;
using Qwen.Silo.Storage;
using Qwen.Silo.Storage.Postgres;

namespace Qwen.Cli.Commands;

/// <summary>
/// <c>qwen keys create|list|revoke</c>: the cluster's API keys in its database (run <c>qwen db migrate</c> first).
/// The database is given like <c>qwen db migrate</c>'s: <c>--connection</c> or <c>Postgres__ConnectionString</c>.
/// </summary>
internal static class KeysCommand
{
    public static Command Create()
    {
        var create = new Command("create", "Create a key for a tenant; the key is printed once and stored only as a hash.");
        var tenant = new Option<string>("--tenant") { Description = "The tenant whose conversations the key reaches", Required = true };
        var admin = new Option<bool>("--admin") { Description = "Allow the operations endpoints (/v1/cluster/*, /metrics, dashboards)" };
        var name = new Option<string?>("--name") { Description = "A note saying who or what holds the key" };
        var createJson = JsonOption();
        var createConnection = ClusterDatabase.ConnectionOption();
        create.Options.Add(tenant);
        create.Options.Add(admin);
        create.Options.Add(name);
        create.Options.Add(createJson);
        create.Options.Add(createConnection);
        create.SetAction((parse, ct) => RunAsync(parse.GetValue(createConnection), async store =>
        {
            var created = await store.CreateAsync(parse.GetValue(tenant)!, parse.GetValue(admin), parse.GetValue(name) ?? "", ct);
            if (parse.GetValue(createJson))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    key_id = created.Stored.KeyId,
                    key = created.Key,
                    tenant = created.Stored.Tenant,
                    admin = created.Stored.Admin,
                }));
                return 0;
            }
            Console.WriteLine($"created key {created.Stored.KeyId} for tenant '{created.Stored.Tenant}'{(created.Stored.Admin ? " (admin)" : "")}");
            Console.WriteLine($"key: {created.Key}");
            Console.WriteLine("store it now: it is shown only this once (the database keeps only its hash)");
            return 0;
        }));

        var list = new Command("list", "List the keys: id, tenant, admin, name, created and revoked times (never the keys).");
        var listJson = JsonOption();
        var listConnection = ClusterDatabase.ConnectionOption();
        list.Options.Add(listJson);
        list.Options.Add(listConnection);
        list.SetAction((parse, ct) => RunAsync(parse.GetValue(listConnection), async store =>
        {
            var keys = await store.ListAsync(ct);
            if (parse.GetValue(listJson))
            {
                Console.WriteLine(JsonSerializer.Serialize(keys.Select(k => new
                {
                    key_id = k.KeyId,
                    tenant = k.Tenant,
                    admin = k.Admin,
                    name = k.Name,
                    created_at = k.CreatedAt,
                    revoked_at = k.RevokedAt,
                })));
                return 0;
            }
            Console.WriteLine($"{"KEY ID",-14}{"TENANT",-20}{"ADMIN",-7}{"CREATED (UTC)",-22}{"REVOKED (UTC)",-22}NAME");
            foreach (var k in keys)
            {
                Console.WriteLine($"{k.KeyId,-14}{k.Tenant,-20}{(k.Admin ? "yes" : "no"),-7}{Time(k.CreatedAt),-22}{Time(k.RevokedAt),-22}{k.Name}");
            }
            return 0;
        }));

        var revoke = new Command("revoke", "Revoke a key: Apis refuse it once their key cache expires (Auth:KeyCacheDuration).");
        var keyId = new Argument<string>("key-id") { Description = "The key's id (from create or list)" };
        var revokeConnection = ClusterDatabase.ConnectionOption();
        revoke.Arguments.Add(keyId);
        revoke.Options.Add(revokeConnection);
        revoke.SetAction((parse, ct) => RunAsync(parse.GetValue(revokeConnection), async store =>
        {
            string id = parse.GetValue(keyId)!;
            if (!await store.RevokeAsync(id, ct)) throw new ArgumentException($"there is no key with id '{id}' (see 'qwen keys list')");
            Console.WriteLine($"revoked key {id}");
            return 0;
        }));

        return new Command("keys", "The cluster's API keys (stored hashed in its database).") { create, list, revoke };
    }

    private static Option<bool> JsonOption() => new("--json") { Description = "Print JSON instead of text" };

    private static string Time(DateTimeOffset? time) =>
        time?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";

    private static Task<int> RunAsync(string? connection, Func<PostgresApiKeyStore, Task<int>> work) => CliApp.Guard(async () =>
    {
        NpgsqlDataSource dataSource = ClusterDatabase.Open(connection);
        await using (dataSource)
        {
            try
            {
                return await work(new PostgresApiKeyStore(dataSource));
            }
            catch (StorageUnavailableException e)
            {
                string hint = e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable }
                    ? " (run 'qwen db migrate' first)" : "";
                await Console.Error.WriteLineAsync($"error: {e.Message}{hint}");
                return ClusterDatabase.Unavailable;
            }
        }
    });
}
