// Schema migrations, embedded from store/migrations/NNNN_name.sql (SQLite) and
// store/migrations/postgresql/NNNN_name.sql (PostgreSQL): the same versions, each in its
// engine's DDL. The schema version is the number of migrations applied.
#ifndef SLUICE_STORE_MIGRATIONS_HPP_
#define SLUICE_STORE_MIGRATIONS_HPP_

#include <vector>

namespace sluice::store {

struct Migration {
  int version;       // 1, 2, ... (the file's position)
  const char* name;  // file name, for messages
  const char* sql;
};

const std::vector<Migration>& Migrations();          // SQLite's: store/migrations/*.sql
const std::vector<Migration>& PostgresMigrations();  // store/migrations/postgresql/*.sql

class Database;
// The migrations of `db`'s engine; their count is the newest schema version.
const std::vector<Migration>& MigrationsFor(const Database& db);
// The schema version of `db` (0: empty). SQLite keeps it in PRAGMA user_version,
// PostgreSQL in the table sluice_schema.
int SchemaVersion(Database& db);
// Brings the database to the newest schema, inside one write transaction; safe when
// several processes open a new store at once. Refuses a store newer than this build.
void Migrate(Database& db);

}  // namespace sluice::store

#endif  // SLUICE_STORE_MIGRATIONS_HPP_
