// Schema migrations, embedded from store/migrations/NNNN_name.sql. PRAGMA user_version
// holds the number of migrations applied.
#ifndef SLUICE_STORE_MIGRATIONS_HPP_
#define SLUICE_STORE_MIGRATIONS_HPP_

#include <vector>

namespace sluice::store {

struct Migration {
  int version;       // 1, 2, ... (the file's position)
  const char* name;  // file name, for messages
  const char* sql;
};

const std::vector<Migration>& Migrations();

class Database;
// Brings the database to the newest schema, inside one write transaction; safe when
// several processes open a new store at once. Refuses a store newer than this build.
void Migrate(Database& db);

}  // namespace sluice::store

#endif  // SLUICE_STORE_MIGRATIONS_HPP_
