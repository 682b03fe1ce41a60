// Runs one plugin's stage alone, as the host would, with inline parameters and inputs
// made by the test (after MediaPipe's calculator tests and GStreamer's GstHarness).
//
//   StageHarness h("trainer");
//   h.Set("epochs", int64_t{2}).Input("data", dataset).Input("model", spec);
//   ASSERT_TRUE(h.Run().ok());
//   auto model = h.Output<sluice::TrainedModel>("model");
#ifndef SLUICE_TESTS_SUPPORT_STAGE_HARNESS_HPP_
#define SLUICE_TESTS_SUPPORT_STAGE_HARNESS_HPP_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/abi.h"
#include "sluice/contract.hpp"
#include "sluice/stage.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {

class StageHarness final : public StageContext, public RunInfoV1, public CheckpointsV1, public ModelRegistryV1 {
 public:
  // Loads the built-in plugin `name` from the build tree, checking its handshake.
  explicit StageHarness(const std::string& name, const std::string& plugin_dir = SLUICE_TEST_BUILTIN_PLUGIN_DIR);

  StageHarness& Set(const std::string& param, Value value);
  StageHarness& Input(const std::string& port, std::shared_ptr<PortValue> value);
  // StopRequested() turns true after it has been asked `checks` times.
  StageHarness& StopAfter(int checks);
  // Checkpoints go to `dir` (share it between harnesses to resume), and Resuming() says
  // `resuming`.
  StageHarness& Checkpoints(const std::string& dir, bool resuming);
  // ModelRegistryV1::Resolve(reference) answers `weights`.
  StageHarness& KnownModel(const std::string& reference, const std::string& weights);
  // Offers one more service (as a newer host would), or withholds one of the standard
  // ones (as an older host would).
  StageHarness& OfferService(const std::string& name, uint32_t version, void* service);
  StageHarness& WithholdService(const std::string& name);

  Status Run();

  template <class T>
  std::shared_ptr<T> Output(const std::string& port) const {
    auto it = outputs_.find(port);
    return it == outputs_.end() ? nullptr : std::dynamic_pointer_cast<T>(it->second);
  }
  // (step, value) pairs logged under `key` (without the stage prefix).
  std::vector<std::pair<int64_t, double>> Metric(const std::string& key) const;
  // Artifact name -> the file's path (kept in the harness's temp folder).
  const std::map<std::string, std::string>& artifacts() const { return artifacts_; }
  const std::vector<std::string>& info() const { return info_; }
  const Contract& contract() const { return contract_; }

  // StageContext
  const std::string& stage_name() const override { return stage_; }
  const Params& params() const override { return params_; }
  uint64_t seed() const override { return params_.Has("seed") ? static_cast<uint64_t>(params_.Int("seed")) : 1; }
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
  // Facts recorded through RunInfoV1::SetEnvironment.
  const std::map<std::string, std::string>& environment() const { return environment_; }
  // Bundles registered through ModelRegistryV1::Register: name -> folders, by version.
  const std::map<std::string, std::vector<std::string>>& registered() const { return registered_; }

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
  TempDir dir_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_STAGE_HARNESS_HPP_
