// test-bad-data: a data plugin that publishes what it is told to get wrong, so that tests
// see the host blame it (not the trainer that would read it).
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

using sluice::Status;

class Blob final : public sluice::PortValue {
 public:
  const char* port_type() const override { return "blob"; }
};

class BadData final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("test-bad-data", "1.0.0", sluice::Kind::kData)
        .doc("Test plugin: a small dataset with one chosen flaw")
        .output("data", sluice::ports::kDataset, "the flawed dataset")
        .param(sluice::ChoiceParam("flaw", "none",
                                   {"none", "int32-targets", "no-class-names", "class-out-of-range", "wrong-type",
                                    "no-preprocessing", "wrong-shape", "torch-error"})
                   .doc("what to get wrong"));
  }

  Status Run(sluice::StageContext& ctx) override {
    const std::string flaw = ctx.params().String("flaw");
    if (flaw == "wrong-type") {
      ctx.SetOutput("data", std::make_shared<Blob>());
      return Status::Ok();
    }
    if (flaw == "torch-error") {  // thrown through the SDK's wrapper, backtrace and all
      torch::mm(torch::ones({2, 3}), torch::ones({4, 5}));
    }
    auto ds = std::make_shared<sluice::TensorDataset>();
    torch::manual_seed(1);
    auto split = [&](int64_t n) {
      sluice::Split s;
      s.features = torch::randn({n, 4});
      s.targets = torch::arange(n, torch::kInt64).remainder(2);
      return s;
    };
    ds->train = split(64);
    ds->validation = split(16);
    ds->test = split(16);
    ds->sample_shape = {4};
    ds->class_names = {"no", "yes"};
    ds->preprocessing = sluice::ImagePreprocessing({4}, 1.0, 0.0, 1.0, ds->class_names);
    if (flaw == "int32-targets") ds->train.targets = ds->train.targets.to(torch::kInt32);
    if (flaw == "no-class-names") ds->class_names.clear();
    if (flaw == "class-out-of-range") ds->validation.targets[3] = 2;
    if (flaw == "no-preprocessing") ds->preprocessing.clear();
    if (flaw == "wrong-shape") ds->test.features = torch::randn({16, 5});
    ctx.SetOutput("data", ds);
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(BadData)
