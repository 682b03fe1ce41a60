// A run store for a test on either engine: "sqlite" (a store folder of its own) or
// "postgresql" (a database of its own on the test server that CTest starts before the
// tests that need it, with an artifact root of its own; the database is dropped
// afterwards). Run outside CTest, the server must be started by hand
// (tools/pg-test-server), or the tests fail saying they cannot connect. Store tests are written once and run on both.
#ifndef SLUICE_TESTS_SUPPORT_ENGINE_STORE_HPP_
#define SLUICE_TESTS_SUPPORT_ENGINE_STORE_HPP_

#include <stdlib.h>

#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include "run_store.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {

// The test server's URL with `database` in place of its own: the server CTest starts for
// this build (SLUICE_TEST_POSTGRES, tests/CMakeLists.txt), or $SLUICE_TEST_POSTGRES.
inline std::string PostgresUrl(const std::string& database) {
  const char* server = std::getenv("SLUICE_TEST_POSTGRES");
  std::string url = server && *server ? server : SLUICE_TEST_POSTGRES;
  return url.substr(0, url.rfind('/') + 1) + database;
}

class EngineStore {
 public:
  explicit EngineStore(const std::string& engine) : engine_(engine) {
    if (engine == "postgresql") {
      std::random_device random;
      database_ = "sluice_test_" + std::to_string(random()) + std::to_string(random());
      store::Database admin(PostgresUrl("postgres"));
      admin.Exec("CREATE DATABASE " + database_);
      location_ = PostgresUrl(database_);
      setenv("SLUICE_ARTIFACT_ROOT", (dir_.path() / "artifacts-root").c_str(), 1);
    } else {
      location_ = (dir_.path() / "store").string();
    }
    store_ = store::RunStore::Open(location_);
  }
  ~EngineStore() {
    store_.reset();
    if (!database_.empty()) {
      try {
        store::Database admin(PostgresUrl("postgres"));
        admin.Exec("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
      } catch (const std::exception&) {
        // The server goes away with the test run anyway.
      }
    }
  }
  EngineStore(const EngineStore&) = delete;
  EngineStore& operator=(const EngineStore&) = delete;

  store::RunStore& operator*() { return *store_; }
  store::RunStore* operator->() { return store_.get(); }
  // What `--store` takes for it: the folder, or the URL.
  const std::string& location() const { return location_; }
  // Opens it again (another connection, as another process would).
  std::unique_ptr<store::RunStore> Reopen() const { return store::RunStore::Open(location_); }
  void Close() { store_.reset(); }
  const TempDir& dir() const { return dir_; }

 private:
  std::string engine_;
  TempDir dir_;
  std::string database_;
  std::string location_;
  std::unique_ptr<store::RunStore> store_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_ENGINE_STORE_HPP_
