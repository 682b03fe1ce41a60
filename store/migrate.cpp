#include "database.hpp"
#include "migrations.hpp"

namespace sluice::store {

const std::vector<Migration>& MigrationsFor(const Database& db) {
  return db.dialect() == Dialect::kPostgres ? PostgresMigrations() : Migrations();
}

int SchemaVersion(Database& db) {
  if (db.dialect() == Dialect::kPostgres) {
    Statement exists = db.Prepare("SELECT to_regclass('sluice_schema') IS NOT NULL");
    exists.Step();
    if (exists.Int(0) == 0) return 0;
    Statement q = db.Prepare("SELECT COALESCE(max(version), 0) FROM sluice_schema");
    q.Step();
    return static_cast<int>(q.Int(0));
  }
  Statement stmt = db.Prepare("PRAGMA user_version");
  stmt.Step();
  return static_cast<int>(stmt.Int(0));
}

void Migrate(Database& db) {
  const bool postgres = db.dialect() == Dialect::kPostgres;
  const std::vector<Migration>& migrations = MigrationsFor(db);
  const int newest = static_cast<int>(migrations.size());
  if (SchemaVersion(db) == newest) return;  // the common case: no write lock needed
  db.WriteTransaction([&] {
    const int current = SchemaVersion(db);  // re-read under the lock
    if (current > newest) {
      throw StoreError("store " + db.path() + " has schema version " + std::to_string(current) +
                       ", newer than this sluice understands (" + std::to_string(newest) + "); use a newer sluice");
    }
    if (postgres && current == 0) db.Exec("CREATE TABLE IF NOT EXISTS sluice_schema (version BIGINT NOT NULL)");
    for (const Migration& m : migrations) {
      if (m.version <= current) continue;
      db.Exec(m.sql);
    }
    if (postgres) {
      db.Exec("DELETE FROM sluice_schema");
      db.Exec("INSERT INTO sluice_schema (version) VALUES (" + std::to_string(newest) + ")");
      return;
    }
    db.Exec("PRAGMA user_version = " + std::to_string(newest));
    // A migration may edit stored schema text (writable_schema); a new schema cookie
    // makes every connection, this one included, parse the schema again.
    Statement cookie = db.Prepare("PRAGMA schema_version");
    cookie.Step();
    const int64_t next = cookie.Int(0) + 1;
    cookie.Reset();
    db.Exec("PRAGMA schema_version = " + std::to_string(next));
  });
}

}  // namespace sluice::store
