// arff: a table from a Weka ARFF file (numeric, nominal, string and date attributes,
// sparse rows, missing values), split and preprocessed for training.
#include "dataset.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
#include "table.hpp"

namespace {

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::string> kFileParam{"file"};

class Arff final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    sluice::Contract c =
        sluice::Contract("arff", "0.1.0", sluice::Kind::kData)
            .doc(
                "A table from a Weka ARFF file (numeric, nominal, string, date; dense or sparse rows), imputed, "
                "encoded, standardized, split with a seed")
            .output(sluice::tabular::kDataOut)
            .param(kFileParam.Required().format(sluice::StringFormat::kFile).doc("the .arff file"));
    return sluice::tabular::AddTableParams(c);
  }

  sluice::Status Run(sluice::StageContext& ctx) override {
    sluice::tabular::ReadOptions options;
    options.skip_bad_rows = sluice::tabular::kSkipBadRowsParam.Get(ctx.params());
    options.encoding = sluice::tabular::EncodingFromName(sluice::tabular::kEncodingParam.Get(ctx.params()));
    sluice::tabular::Table table;
    SLUICE_RETURN_IF_ERROR(sluice::tabular::ReadArff(kFileParam.Get(ctx.params()), options, table));
    return sluice::tabular::BuildTableDataset(ctx, table, "arff");
  }
};

}  // namespace

SLUICE_PLUGIN(Arff)
