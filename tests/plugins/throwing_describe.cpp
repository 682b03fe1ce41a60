// A plugin whose Describe() throws, built by hand (no embedded contract): the host loads
// it to ask, and reports the exception's text.
#include <stdexcept>

#include "sluice/plugin.hpp"

namespace {

class Throwing final : public sluice::Stage {
 public:
  static sluice::Contract Describe() { throw std::runtime_error("no GPU here to describe myself with"); }
  sluice::Status Run(sluice::StageContext&) override { return sluice::Status::Ok(); }
};

}  // namespace

SLUICE_PLUGIN(Throwing)
