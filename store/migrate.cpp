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
  });
}

}  // namespace sluice::store
