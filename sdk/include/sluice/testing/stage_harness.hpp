// Testing a plugin's stage alone, as the host runs it (after MediaPipe's calculator tests
// and GStreamer's GstHarness): inline parameters and inputs, the stage's outputs, metrics,
// artifacts and messages to look at. Link SluiceSDK::testing (sluice_plugin_test() does).
//
//   sluice::testing::StageHarness h("my-data");   // found on SLUICE_PLUGIN_PATH, or a path
//   h.Set("file", std::string("rows.csv")).Input("in", value);
//   ASSERT_OK(h.Run());
//   auto data = h.Output<sluice::TensorDataset>("data");
//
// It checks what the host checks: the library's handshake (ABI, toolchain key) before any
// call, every parameter set against the contract (type, range, choices), every published
// value against its port (PortValue::Check), and every metric logged against the
// contract's declarations; Run() returns the first problem found as an error.
//
// Ownership: the harness owns everything it hands out; the loaded library stays loaded
// until the process exits (plugins are never unloaded).
#ifndef SLUICE_TESTING_STAGE_HARNESS_HPP_
#define SLUICE_TESTING_STAGE_HARNESS_HPP_

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/abi.h"
#include "sluice/contract.hpp"
#include "sluice/export.h"
#include "sluice/stage.hpp"

namespace sluice::testing {

class SLUICE_API StageHarness final : public StageContext,
                                      public RunInfoV1,
                                      public CheckpointsV1,
                                      public ModelRegistryV1 {
 public:
  // `plugin`: a library's path (anything with a '/'), or a plugin name, loaded from
  // NAME.so in the first folder of $SLUICE_PLUGIN_PATH that has it. Throws
  // std::runtime_error naming what is wrong (no such library, a handshake mismatch, a
  // contract that cannot be read).
  explicit StageHarness(const std::string& plugin);
  ~StageHarness() override;
  StageHarness(const StageHarness&) = delete;
  StageHarness& operator=(const StageHarness&) = delete;

  // Sets a parameter, checked against the contract; throws std::invalid_argument if the
  // plugin has no such parameter or the value is not one it accepts.
  StageHarness& Set(const std::string& param, Value value);
  StageHarness& Input(const std::string& port, std::shared_ptr<PortValue> value);
  // StopRequested() turns true after it has been asked `checks` times.
  StageHarness& StopAfter(int checks);
  // Checkpoints go to `dir` (share it between harnesses to resume); Resuming() says
  // `resuming`.
  StageHarness& Checkpoints(const std::string& dir, bool resuming);
  // ModelRegistryV1::Resolve(reference) answers `weights`.
  StageHarness& KnownModel(const std::string& reference, const std::string& weights);
  // Offers one more service (as a newer host would), or withholds one of the standard
  // ones (as an older host would).
  StageHarness& OfferService(const std::string& name, uint32_t version, void* service);
  StageHarness& WithholdService(const std::string& name);

  // Runs the stage once.
  Status Run();

  template <class T>
  std::shared_ptr<T> Output(const std::string& port) const {
    auto it = outputs_.find(port);
    return it == outputs_.end() ? nullptr : std::dynamic_pointer_cast<T>(it->second);
  }
  // (step, value) pairs logged under `key` (without the stage prefix).
  std::vector<std::pair<int64_t, double>> Metric(const std::string& key) const;
  // Artifact name -> the file's path (kept in the harness's temporary folder).
  const std::map<std::string, std::string>& artifacts() const { return artifacts_; }
  // Lines the stage gave Info(), in order.
  const std::vector<std::string>& info() const { return info_; }
  const Contract& contract() const { return contract_; }
  // Facts recorded through RunInfoV1::SetEnvironment.
  const std::map<std::string, std::string>& environment() const { return environment_; }
  // Bundles registered through ModelRegistryV1::Register: name -> folders, by version.
  const std::map<std::string, std::vector<std::string>>& registered() const { return registered_; }

  // StageContext
  const std::string& stage_name() const override { return stage_; }
  const Params& params() const override { return params_; }
  uint64_t seed() const override;
  std::shared_ptr<PortValue> InputValue(std::string_view port) const override;
  void SetOutput(std::string_view port, std::shared_ptr<PortValue> value) override;
  void LogMetric(std::string_view key, int64_t step, double value) override;
  Status AddArtifact(std::string_view name, const std::string& file) override;
  std::string ScratchDir() override;
  bool StopRequested() const override;
  void ReportProgress(const Progress& progress) override;
  void Info(std::string_view message) override;
  void* FindService(std::string_view name, uint32_t version) override;
  // RunInfoV1
  const std::string& run_id() const override { return run_id_; }
  void SetEnvironment(std::string_view key, std::string_view value) override;
  std::vector<std::pair<std::string, double>> Metrics() override;
  // CheckpointsV1
  std::string Dir() override;
  bool Resuming() const override { return resuming_; }
  // ModelRegistryV1
  Status Resolve(std::string_view reference, ModelReference& out) override;
  Status Register(const ModelRegistration& registration, int64_t& version, std::string& path) override;

 private:
  std::string stage_;
  const SluicePluginInfo* info_struct_ = nullptr;
  Contract contract_;
  Params params_;
  std::map<std::string, std::shared_ptr<PortValue>, std::less<>> inputs_, outputs_;
  std::map<std::string, std::vector<std::pair<int64_t, double>>> metrics_;
  std::map<std::string, std::string> artifacts_;
  std::map<std::string, std::string> environment_;
  std::vector<std::string> info_;
  mutable int stop_after_ = -1;
  std::string run_id_ = "00000000000000aa";
  std::string checkpoint_dir_;
  bool resuming_ = false;
  std::map<std::string, std::string> models_;
  std::map<std::string, std::vector<std::string>> registered_;
  std::map<std::pair<std::string, uint32_t>, void*> extra_services_;
  std::vector<std::string> withheld_;
  std::vector<std::string> undeclared_metrics_;
  std::string published_error_;
  std::filesystem::path dir_;  // temporary, removed with the harness
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTING_STAGE_HARNESS_HPP_
