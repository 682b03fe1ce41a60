// csv: a table from a CSV file (header row, numeric and categorical columns, a class or
// numeric target), split and preprocessed for training.
#include "dataset.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
#include "table.hpp"

namespace {

class Csv final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    sluice::Contract c =
        sluice::Contract("csv", "0.1.0", sluice::Kind::kData)
            .doc(
                "A table from a CSV file: numeric and categorical columns, a class or numeric target, missing "
                "values imputed, standardized, split with a seed")
            .output("data", sluice::ports::kDataset, "train, validation and test splits, with the fitted preprocessing")
            .param(sluice::RequiredParam("file", sluice::ParamType::kString)
                       .format(sluice::StringFormat::kFile)
                       .doc("the CSV file"))
            .param(sluice::StringParam("delimiter", ",").doc("the field separator (one character)"))
            .param(sluice::BoolParam("header", true).doc("the first row names the columns"))
            .param(sluice::StringListParam("na_values", {"", "?", "NA", "N/A", "NaN", "nan", "null", "NULL"})
                       .doc("cell texts that mean missing"))
            .param(sluice::StringListParam("categorical_columns", {})
                       .doc("columns read as categories even where their values are numbers (codes, zip codes)"));
    return sluice::tabular::AddTableParams(c);
  }

  sluice::Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    if (p.String("delimiter").size() != 1) {
      return sluice::Status::InvalidArgument("delimiter must be one character, got \"" + p.String("delimiter") + "\"");
    }
    sluice::tabular::ReadOptions options;
    options.delimiter = p.String("delimiter")[0];
    options.header = p.Bool("header");
    options.na_values = p.StringList("na_values");
    options.skip_bad_rows = p.Bool("skip_bad_rows");
    options.encoding = sluice::tabular::EncodingFromName(p.String("encoding"));
    options.categorical = p.StringList("categorical_columns");
    sluice::tabular::Table table;
    SLUICE_RETURN_IF_ERROR(sluice::tabular::ReadCsv(p.String("file"), options, table));
    return sluice::tabular::BuildTableDataset(ctx, table, "csv");
  }
};

}  // namespace

SLUICE_PLUGIN(Csv)
