// arff: a table from a Weka ARFF file (numeric, nominal, string and date attributes,
// sparse rows, missing values), split and preprocessed for training.
#include "dataset.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
#include "table.hpp"

namespace {

class Arff final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    sluice::Contract c =
        sluice::Contract("arff", "0.1.0", sluice::Kind::kData)
            .doc(
                "A table from a Weka ARFF file (numeric, nominal, string, date; dense or sparse rows), imputed, "
                "encoded, standardized, split with a seed")
            .output("data", sluice::ports::kDataset, "train, validation and test splits, with the fitted preprocessing")
            .param(sluice::RequiredParam("file", sluice::ParamType::kString)
                       .format(sluice::StringFormat::kFile)
                       .doc("the .arff file"));
    return sluice::tabular::AddTableParams(c);
  }

  sluice::Status Run(sluice::StageContext& ctx) override {
    sluice::tabular::ReadOptions options;
    options.skip_bad_rows = ctx.params().Bool("skip_bad_rows");
    options.encoding = sluice::tabular::EncodingFromName(ctx.params().String("encoding"));
    sluice::tabular::Table table;
    SLUICE_RETURN_IF_ERROR(sluice::tabular::ReadArff(ctx.params().String("file"), options, table));
    return sluice::tabular::BuildTableDataset(ctx, table, "arff");
  }
};

}  // namespace

SLUICE_PLUGIN(Arff)
