// Data-parallel runs (`sluice run FILE --nproc N`): a launcher process starts N ranks of
// `sluice run` on this host (node), watches them, and stops the others when one fails;
// each rank executes the whole pipeline and offers the "distributed" service to its
// stages, whose trainers join through c10d. Rank 0 records the run in the store; the
// other ranks write to a scratch store of their own, removed at the end.
#ifndef SLUICE_HOST_EXEC_DISTRIBUTED_HPP_
#define SLUICE_HOST_EXEC_DISTRIBUTED_HPP_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sluice/services.hpp"

namespace sluice::exec {

// This process's place in a data-parallel run, as the launcher passed it (SLUICE_DIST_*).
struct RankInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_address;
  int master_port = 0;
  double timeout_seconds = 300;
  std::string run_id;      // the id rank 0 records the run under
  std::string store;       // ranks > 0: the scratch store they write to
  std::string main_store;  // the store rank 0 records in (as --store takes it: a folder or a URL)
  std::string main_dir;    // its folder (a PostgreSQL store's artifact root)
};

// ADDR:PORT (an IPv6 address in brackets) to the address and the port; throws
// std::invalid_argument saying what is wrong.
std::pair<std::string, int> ParseMaster(const std::string& master);

// Set when this process was started by a launcher as one rank; nullopt otherwise.
std::optional<RankInfo> RankFromEnvironment();

// What a rank offers its stages.
class HostDistributed final : public DistributedV1 {
 public:
  explicit HostDistributed(RankInfo info) : info_(std::move(info)) {}
  int rank() const override { return info_.rank; }
  int world_size() const override { return info_.world_size; }
  int local_rank() const override { return info_.local_rank; }
  const std::string& master_address() const override { return info_.master_address; }
  int master_port() const override { return info_.master_port; }
  double timeout_seconds() const override { return info_.timeout_seconds; }

 private:
  RankInfo info_;
};

struct LaunchOptions {
  int nproc = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master;               // ADDR:PORT; empty: 127.0.0.1 and a free port (one node only)
  double timeout_seconds = 300;     // a collective waiting longer fails the run
  double grace_seconds = 10;        // after a rank fails, how long the others get to stop themselves
  std::string store;                // this host's store, as --store takes it (rank 0 records the run there)
  std::filesystem::path store_dir;  // its folder: scratch stores of the other ranks go under it
  std::string run_id;               // the id rank 0 records the run under
  std::vector<std::string> args;    // `sluice run` arguments every rank gets
  bool quiet_stdout_of_others = true;
};

// Starts the ranks of this node, waits for them, and returns the exit code: rank 0's, or
// failure when another rank failed. A rank that fails makes the others stop within
// `grace_seconds` (they normally notice at their next collective and fail on their own);
// Ctrl-C and SIGTERM are passed on to every rank. When rank 0 could not record the end
// of the run itself (killed), the launcher records it failed, naming the rank and why.
int LaunchRanks(const LaunchOptions& options);

}  // namespace sluice::exec

#endif  // SLUICE_HOST_EXEC_DISTRIBUTED_HPP_
