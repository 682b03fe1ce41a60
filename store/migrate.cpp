#include "migrations.hpp"
#include "sqlite.hpp"

namespace sluice::store {

namespace {
int UserVersion(Database& db) {
  Statement stmt = db.Prepare("PRAGMA user_version");
  stmt.Step();
  return static_cast<int>(stmt.Int(0));
}
}  // namespace

void Migrate(Database& db) {
  const int newest = static_cast<int>(Migrations().size());
  if (UserVersion(db) == newest) return;  // the common case: no write lock needed
  db.WriteTransaction([&] {
    const int current = UserVersion(db);  // re-read under the lock
    if (current > newest) {
      throw StoreError("store " + db.path() + " has schema version " + std::to_string(current) +
                       ", newer than this sluice understands (" + std::to_string(newest) + "); use a newer sluice");
    }
    for (const Migration& m : Migrations()) {
      if (m.version <= current) continue;
      db.Exec(m.sql);
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
