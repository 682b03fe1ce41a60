// csv: a table from a CSV file (header row, numeric and categorical columns, a class or
// numeric target), split and preprocessed for training.
#include "dataset.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
#include "table.hpp"

namespace {

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::string> kDelimiterParam{"delimiter"};
const sluice::Param<bool> kHeaderParam{"header"};
const sluice::Param<std::vector<std::string>> kNaValuesParam{"na_values"};
const sluice::Param<std::vector<std::string>> kCategoricalColumnsParam{"categorical_columns"};
const sluice::Param<std::string> kFileParam{"file"};

class Csv final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    sluice::Contract c =
        sluice::Contract("csv", "0.1.0", sluice::Kind::kData)
            .doc(
                "A table from a CSV file: numeric and categorical columns, a class or numeric target, missing "
                "values imputed, standardized, split with a seed")
            .output(sluice::tabular::kDataOut)
            .param(kFileParam.Required().format(sluice::StringFormat::kFile).doc("the CSV file"))
            .param(kDelimiterParam.Default(",").doc("the field separator (one character)"))
            .param(kHeaderParam.Default(true).doc("the first row names the columns"))
            .param(kNaValuesParam.Default({"", "?", "NA", "N/A", "NaN", "nan", "null", "NULL"})
                       .doc("cell texts that mean missing"))
            .param(kCategoricalColumnsParam.Default({}).doc(
                "columns read as categories even where their values are numbers (codes, zip codes)"));
    return sluice::tabular::AddTableParams(c);
  }

  sluice::Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    if (kDelimiterParam.Get(p).size() != 1) {
      return sluice::Status::InvalidArgument("delimiter must be one character, got \"" + kDelimiterParam.Get(p) + "\"");
    }
    sluice::tabular::ReadOptions options;
    options.delimiter = kDelimiterParam.Get(p)[0];
    options.header = kHeaderParam.Get(p);
    options.na_values = kNaValuesParam.Get(p);
    options.skip_bad_rows = sluice::tabular::kSkipBadRowsParam.Get(p);
    options.encoding = sluice::tabular::EncodingFromName(sluice::tabular::kEncodingParam.Get(p));
    options.categorical = kCategoricalColumnsParam.Get(p);
    sluice::tabular::Table table;
    SLUICE_RETURN_IF_ERROR(sluice::tabular::ReadCsv(kFileParam.Get(p), options, table));
    return sluice::tabular::BuildTableDataset(ctx, table, "csv");
  }
};

}  // namespace

SLUICE_PLUGIN(Csv)
