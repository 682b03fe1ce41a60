// CSV, JSON Lines and ARFF reading and the preprocessing fitted on training rows (no LibTorch).
#include <gtest/gtest.h>

#include "data_files.hpp"
#include "preprocess.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "table.hpp"
#include "temp_dir.hpp"

namespace sluice::tabular {
namespace {

using testing::TempDir;

TEST(CsvTest, ReadsQuotesEmbeddedLineBreaksAndInfersTypes) {
  TempDir dir;
  const std::string path = dir.Write("t.csv",
                                     "age,city,note,label\n"
                                     "31,\"Berlin, Mitte\",\"said \"\"hi\"\"\",yes\n"
                                     "NA,Paris,\"two\nlines\",no\n"
                                     "\n"
                                     "42.5, Oslo ,,yes\r\n");
  Table t;
  ASSERT_OK(ReadCsv(path, ReadOptions(), t));
  ASSERT_EQ(t.columns.size(), 4u);
  EXPECT_EQ(t.columns[0].type, ColumnType::kNumeric);
  EXPECT_EQ(t.columns[1].type, ColumnType::kNominal);
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][1].text, "Berlin, Mitte");
  EXPECT_EQ(t.rows[0][2].text, "said \"hi\"");
  EXPECT_TRUE(t.rows[1][0].missing);
  EXPECT_EQ(t.rows[1][2].text, "two\nlines");
  EXPECT_EQ(t.rows[2][1].text, "Oslo");
  EXPECT_DOUBLE_EQ(t.rows[2][0].number, 42.5);
  EXPECT_TRUE(t.rows[2][2].missing);
  EXPECT_EQ(t.lines, (std::vector<int64_t>{2, 3, 6}));
  EXPECT_EQ(t.columns[3].values, (std::vector<std::string>{"no", "yes"}));
}

TEST(CsvTest, MalformedRowsFailWithTheirLineOrAreSkippedAndCounted) {
  TempDir dir;
  const std::string path = dir.Write("bad.csv", "a,b,c\n1,2,3\n4,5\n7,8,9\n\"open,1,2\n");
  Table t;
  Status s = ReadCsv(path, ReadOptions(), t);
  EXPECT_EQ(s.message(), path + ":5: a quoted field opened on this line is never closed");
  const std::string path2 = dir.Write("bad2.csv", "a,b,c\n1,2,3\n4,5\n7,8,9\n");
  s = ReadCsv(path2, ReadOptions(), t);
  EXPECT_EQ(s.message(), path2 + ":3: expected 3 fields, found 2");
  ReadOptions skip;
  skip.skip_bad_rows = true;
  ASSERT_OK(ReadCsv(path2, skip, t));
  EXPECT_EQ(t.rows.size(), 2u);
  ASSERT_EQ(t.skipped.size(), 1u);
  EXPECT_EQ(t.skipped[0], path2 + ":3: expected 3 fields, found 2");
}

TEST(CsvTest, KnownNumericColumnsRejectWordsWithTheLine) {
  TempDir dir;
  const std::string path = dir.Write("k.csv", "x,y\n1,a\nabc,b\n");
  ReadOptions options;
  options.known_columns = {Column{"x", ColumnType::kNumeric, {}, ""}};
  Table t;
  EXPECT_EQ(ReadCsv(path, options, t).message(), path + ":3: column 'x': 'abc' is not a finite number");
}

TEST(CsvTest, ATextCellInAColumnOfNumbersIsReportedWithItsLineNotSilentlyCategorical) {
  TempDir dir;
  ReadOptions options;
  Table t;
  for (const char* odd : {"abc", "inf", "1e309", "-nan(0)"}) {
    SCOPED_TRACE(odd);
    const std::string path = dir.Write("m.csv", std::string("x,y\n1,a\n2,b\n") + odd + ",c\n4,d\n");
    EXPECT_EQ(ReadCsv(path, options, t).message(),
              path + ":4: column 'x': '" + odd +
                  "' is not a finite number, but 3 of its 4 values are; fix the cell, add its text to na_values, set "
                  "skip_bad_rows = true, or list the column in categorical_columns");
  }
  const std::string path = dir.Write("m.csv", "x,y\n1,a\n2,b\nabc,c\n4,d\n");
  ReadOptions skip;
  skip.skip_bad_rows = true;
  ASSERT_OK(ReadCsv(path, skip, t));
  EXPECT_EQ(t.columns[0].type, ColumnType::kNumeric);
  EXPECT_EQ(t.rows.size(), 3u);
  ASSERT_EQ(t.skipped.size(), 1u);
  EXPECT_EQ(t.skipped[0], path + ":4: column 'x': 'abc' is not a finite number");

  ReadOptions categorical;
  categorical.categorical = {"x"};
  ASSERT_OK(ReadCsv(path, categorical, t));
  EXPECT_EQ(t.columns[0].type, ColumnType::kNominal);
  EXPECT_TRUE(t.notes.empty());

  // Mostly text: a categorical column, and the reader says so.
  const std::string codes = dir.Write("c.csv", "code,y\nA7,a\nB2,b\n12,c\nC9,d\n");
  ASSERT_OK(ReadCsv(codes, options, t));
  EXPECT_EQ(t.columns[0].type, ColumnType::kNominal);
  EXPECT_EQ(t.notes, (std::vector<std::string>{
                         "column 'code' holds 1 numbers and 3 other values (the first at line 2: 'A7'): read as "
                         "categorical"}));
}

TEST(CsvTest, AByteOrderMarkIsDroppedAndLatin1IsReadWhenAskedFor) {
  TempDir dir;
  Table t;
  const std::string bom = dir.Write("bom.csv",
                                    "\xEF\xBB\xBF"
                                    "a,b\n1,2\n");
  ASSERT_OK(ReadCsv(bom, ReadOptions(), t));
  EXPECT_EQ(t.columns[0].name, "a");
  EXPECT_TRUE(t.Find("a").has_value());

  const std::string latin1 = dir.Write("l.csv", "city,n\nK\xF6ln,1\nM\xFCnchen,2\n");
  EXPECT_EQ(ReadCsv(latin1, ReadOptions(), t).message(),
            latin1 +
                ":2: byte 2 of the line (offset 8 in the file): invalid UTF-8 (0xF6); if the file is Latin-1, "
                "set encoding = \"latin-1\"");
  ReadOptions options;
  options.encoding = Encoding::kLatin1;
  ASSERT_OK(ReadCsv(latin1, options, t));
  EXPECT_EQ(t.rows[0][0].text, "K\xC3\xB6ln");
  EXPECT_EQ(t.rows[1][0].text, "M\xC3\xBCnchen");

  const std::string nul = dir.Write("n.csv", std::string("a,b\n1,2\n3,\0\n", 12));
  EXPECT_EQ(ReadCsv(nul, ReadOptions(), t).message(),
            nul + ":3: byte 3 of the line (offset 10 in the file): a NUL byte: this is not a text file");
}

TEST(CsvTest, AHugeCellIsQuotedAsAShortExcerpt) {
  TempDir dir;
  const std::string path = dir.Write("h.csv", "x,y\n1,a\n2,b\n" + std::string(5 << 20, '7') + "z,c\n4,d\n");
  Table t;
  const Status s = ReadCsv(path, ReadOptions(), t);
  EXPECT_NOT_OK(s);
  EXPECT_LT(s.message().size(), 600u) << s.message().substr(0, 600);
  EXPECT_NE(s.message().find("7777... (5242881 bytes)"), std::string::npos) << s.message().substr(0, 600);
}

TEST(JsonLinesTest, KeysAreColumnsAndNullOrAbsentKeysAreMissing) {
  TempDir dir;
  const std::string path =
      dir.Write("t.JSONL",
                "{\"age\": 31, \"city\": \"Berlin\", \"member\": true}\n"
                "\n"
                "{\"city\": \"Paris\", \"age\": null, \"since\": \"?\"}\r\n"
                "{\"age\": 42.5, \"city\": \"Oslo, Norway\", \"since\": 2019, \"member\": false}\n");
  Table t;
  ASSERT_OK(ReadTable(path, ReadOptions(), t));
  ASSERT_EQ(t.columns.size(), 4u);
  EXPECT_EQ(t.columns[0].name, "age");
  EXPECT_EQ(t.columns[1].name, "city");
  EXPECT_EQ(t.columns[2].name, "member");
  EXPECT_EQ(t.columns[3].name, "since");
  EXPECT_EQ(t.columns[0].type, ColumnType::kNumeric);
  EXPECT_EQ(t.columns[1].type, ColumnType::kNominal);
  EXPECT_EQ(t.columns[3].type, ColumnType::kNumeric);
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.lines, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_DOUBLE_EQ(t.rows[0][0].number, 31);
  EXPECT_TRUE(t.rows[0][3].missing) << "a key the row lacks";
  EXPECT_TRUE(t.rows[1][0].missing) << "null";
  EXPECT_TRUE(t.rows[1][2].missing) << "a key the row lacks";
  EXPECT_TRUE(t.rows[1][3].missing) << "'?' is among na_values";
  EXPECT_EQ(t.rows[2][1].text, "Oslo, Norway");
  EXPECT_EQ(t.rows[2][2].text, "false");
  EXPECT_DOUBLE_EQ(t.rows[2][3].number, 2019);
  EXPECT_EQ(t.columns[2].values, (std::vector<std::string>{"false", "true"}));
}

TEST(JsonLinesTest, EachBadLineIsNamedWithWhatIsWrong) {
  TempDir dir;
  Table t;
  const auto error = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.Write(name, text);
    const Status s = ReadTable(path, ReadOptions(), t);
    EXPECT_FALSE(s.ok()) << name;
    return s.message().substr(std::min(s.message().size(), path.size()));
  };
  EXPECT_EQ(error("array.jsonl", "{\"a\": 1}\n[1, 2]\n"), ":2: not a JSON object");
  EXPECT_EQ(error("nested.jsonl", "{\"a\": 1}\n{\"a\": 2, \"b\": {\"c\": 3}}\n"),
            ":2: 'b' holds an object, not one value");
  EXPECT_EQ(error("list.ndjson", "{\"a\": [1]}\n"), ":1: 'a' holds an array, not one value");
  EXPECT_EQ(error("empty.jsonl", "\n \n"), ": the file holds no rows");
  const std::string cut = error("cut.jsonl", "{\"a\": 1}\n{\"a\": \"" + std::string(100000, 'x') + "\n");
  EXPECT_EQ(cut.rfind(":2: not a JSON object: ", 0), 0u) << cut.substr(0, 300);
  EXPECT_LT(cut.size(), 600u) << "the message quotes the line whole";
  // A word where the model reads a number, as in CSV.
  ReadOptions known;
  Column age;
  age.name = "age";
  known.known_columns = {age};
  const std::string word = dir.Write("word.jsonl", "{\"age\": 3}\n{\"age\": \"three\"}\n");
  EXPECT_EQ(ReadTable(word, known, t).message(), word + ":2: column 'age': 'three' is not a finite number");
}

TEST(ReadTableTest, TabSeparatedFilesAreReadByTheirExtension) {
  TempDir dir;
  const std::string path = dir.Write("t.TSV", "x\ty, z\n1\tBerlin, Mitte\n2\tParis\n");
  Table t;
  ASSERT_OK(ReadTable(path, ReadOptions(), t));
  ASSERT_EQ(t.columns.size(), 2u);
  EXPECT_EQ(t.columns[1].name, "y, z");
  EXPECT_EQ(t.rows[0][1].text, "Berlin, Mitte");
}

constexpr const char* kArff = R"(% a comment
@RELATION 'weather test'

@attribute outlook {sunny, overcast, 'light rain'}
@attribute temperature NUMERIC
@attribute 'wind speed' real
@attribute note string
@attribute day date "yyyy-MM-dd"
@attribute play {yes,no}

@data
sunny,85,3.5,'it\'s hot',2026-07-01,no
% a comment between rows
'light rain',?,1,"quoted, with comma",2026-07-02,yes
{0 overcast, 1 64, 3 'sparse row', 4 2026-07-03, 5 yes}
)";

TEST(ArffTest, ReadsNominalNumericStringDateSparseAndMissing) {
  TempDir dir;
  const std::string path = dir.Write("w.arff", kArff);
  Table t;
  ASSERT_TRUE(ReadArff(path, ReadOptions(), t).ok()) << ReadArff(path, ReadOptions(), t).message();
  ASSERT_EQ(t.columns.size(), 6u);
  EXPECT_EQ(t.columns[0].values, (std::vector<std::string>{"sunny", "overcast", "light rain"}));
  EXPECT_EQ(t.columns[2].name, "wind speed");
  EXPECT_EQ(t.columns[4].type, ColumnType::kDate);
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][3].text, "it's hot");
  EXPECT_DOUBLE_EQ(t.rows[0][4].number, 20635.0);  // days from 1970-01-01 to 2026-07-01
  EXPECT_TRUE(t.rows[1][1].missing);
  EXPECT_EQ(t.rows[1][0].text, "light rain");
  EXPECT_EQ(t.rows[1][3].text, "quoted, with comma");
  EXPECT_EQ(t.rows[2][0].text, "overcast");
  EXPECT_DOUBLE_EQ(t.rows[2][2].number, 0.0);  // omitted from the sparse row
  EXPECT_EQ(t.rows[2][5].text, "yes");
  EXPECT_EQ(t.lines, (std::vector<int64_t>{12, 14, 15}));
}

TEST(ArffTest, SaysWhichLineAndWhatIsWrong) {
  TempDir dir;
  const std::string header = "@relation r\n@attribute a {x,y}\n@attribute b numeric\n@data\n";
  struct Case {
    std::string data, error;
  } cases[] = {
      {"z,1\n", ":5: attribute 'a': 'z' is not one of its declared values {x, y}"},
      {"x,one\n", ":5: attribute 'b': 'one' is not a finite number"},
      {"x,inf\n", ":5: attribute 'b': 'inf' is not a finite number"},
      {"x,1\xff\n",
       ":5: byte 4 of the line (offset 61 in the file): invalid UTF-8 (0xFF); if the file is Latin-1, "
       "set encoding = \"latin-1\""},
      {"x\n", ":5: the row has 1 values, the header declares 2 attributes"},
      {"x,1,2\n", ":5: the row has 3 values, the header declares 2 attributes"},
      {"{0 x, 7 1}\n", ":5: sparse index 7 is past the 2 attributes"},
      {"'x,1\n", ":5: unterminated quote"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.Write("e.arff", header + c.data);
    Table t;
    EXPECT_EQ(ReadArff(path, ReadOptions(), t).message(), path + c.error);
  }
  const std::string bom = dir.Write("bom.arff", "\xEF\xBB\xBF" + header + "x,1\n");
  Table read;
  ASSERT_OK(ReadArff(bom, ReadOptions(), read));
  EXPECT_EQ(read.rows.size(), 1u);
  const std::string typed = dir.Write("t.arff", "@relation r\n@attribute a relational\n@data\n");
  Table t;
  EXPECT_EQ(ReadArff(typed, ReadOptions(), t).message(),
            typed +
                ":2: attribute 'a' has type 'relational', which is not supported (numeric, integer, real, "
                "{nominal}, string, date)");
}

TEST(ArffTest, ReadsWekasCreditData) {
  Table t;
  ASSERT_OK(ReadArff(sluice::testing::WekaExample("credit-g.arff"), ReadOptions(), t));
  EXPECT_EQ(t.columns.size(), 21u);
  EXPECT_EQ(t.rows.size(), 1000u);
  EXPECT_EQ(t.columns.back().values, (std::vector<std::string>{"good", "bad"}));
}

Table SmallTable() {
  Table t;
  t.source = "mem.csv";
  t.columns = {{"x", ColumnType::kNumeric, {}, ""},
               {"colour", ColumnType::kNominal, {"blue", "red"}, ""},
               {"y", ColumnType::kNominal, {"a", "b"}, ""}};
  auto row = [](double x, bool missing_x, const std::string& colour, const std::string& y) {
    return std::vector<Cell>{{missing_x, x, ""}, {colour.empty(), 0, colour}, {false, 0, y}};
  };
  t.rows = {row(1, false, "red", "a"), row(3, false, "blue", "b"), row(0, true, "red", "a"),
            row(100, false, "green", "b")};
  t.lines = {2, 3, 4, 5};
  return t;
}

TEST(PreprocessTest, FitsOnTrainingRowsOnlyAndEncodes) {
  const Table t = SmallTable();
  Preprocessor p;
  std::vector<std::string> notes;
  FitOptions options;
  ASSERT_OK(Preprocessor::Fit(t, {0, 1, 2}, options, p, notes));
  EXPECT_EQ(p.task, "classification");
  EXPECT_EQ(p.class_names, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(p.features.size(), 2u);
  // Mean of the training rows' x (1, 3), imputed for the missing one, then the
  // statistics of the imputed column: mean 2, deviation sqrt(2/3).
  EXPECT_DOUBLE_EQ(p.features[0].fill, 2.0);
  EXPECT_DOUBLE_EQ(p.features[0].shift, 2.0);
  EXPECT_NEAR(p.features[0].scale, std::sqrt(2.0 / 3.0), 1e-12);
  EXPECT_EQ(p.dense_width(), 3);  // x + one-hot(blue, red)
  std::vector<float> dense;
  std::vector<int64_t> codes;
  ASSERT_OK(p.Transform(t, {2, 3}, dense, codes));
  // Row 2: x missing -> 0 after standardization, red. Row 3: an unseen colour -> zeros.
  EXPECT_FLOAT_EQ(dense[0], 0.0f);
  EXPECT_EQ(std::vector<float>(dense.begin() + 1, dense.begin() + 3), (std::vector<float>{0, 1}));
  EXPECT_EQ(std::vector<float>(dense.begin() + 4, dense.end()), (std::vector<float>{0, 0}));
  std::vector<int64_t> classes;
  std::vector<float> values;
  ASSERT_OK(p.Targets(t, {0, 1, 3}, classes, values));
  EXPECT_EQ(classes, (std::vector<int64_t>{0, 1, 1}));
}

// A wide table (a CSV of 200,000 columns took 4 minutes: each column was looked up by a
// scan of all the others) is matched by name, in whatever order its columns come.
TEST(PreprocessTest, AWideTableIsMatchedByNameInAnyColumnOrder) {
  TempDir dir;
  const int n = 5000;
  std::string header, rows[4], reversed_header, reversed_rows[4];
  for (int c = n - 1; c >= 0; --c) {
    const std::string name = "c" + std::to_string(c);
    reversed_header += name + ",";
    for (int r = 0; r < 4; ++r) reversed_rows[r] += std::to_string(c * (r + 1) % 11) + ",";
  }
  for (int c = 0; c < n; ++c) {
    header += "c" + std::to_string(c) + ",";
    for (int r = 0; r < 4; ++r) rows[r] += std::to_string(c * (r + 1) % 11) + ",";
  }
  std::string fit_text = header + "label\n", other_text = reversed_header + "label\n";
  for (int r = 0; r < 4; ++r) {
    fit_text += rows[r] + (r % 2 ? "yes\n" : "no\n");
    other_text += reversed_rows[r] + (r % 2 ? "yes\n" : "no\n");
  }
  Table fit, other;
  ASSERT_OK(ReadCsv(dir.Write("wide.csv", fit_text), ReadOptions(), fit));
  ReadOptions known;
  Preprocessor p;
  std::vector<std::string> notes;
  ASSERT_OK(Preprocessor::Fit(fit, {0, 1, 2, 3}, FitOptions(), p, notes));
  known.known_columns = p.inputs;
  ASSERT_OK(ReadCsv(dir.Write("reversed.csv", other_text), known, other));
  ASSERT_EQ(p.dense_width(), n);
  std::vector<float> expected, got;
  std::vector<int64_t> codes;
  ASSERT_OK(p.Transform(fit, {0, 1, 2, 3}, expected, codes));
  ASSERT_OK(p.Transform(other, {0, 1, 2, 3}, got, codes));
  EXPECT_EQ(got, expected);
}

TEST(PreprocessTest, EmbeddingCodesReserveZeroForUnknownAndRoundTripThroughJson) {
  const Table t = SmallTable();
  Preprocessor p;
  std::vector<std::string> notes;
  FitOptions options;
  options.encoding = "embedding";
  options.impute = "median";
  ASSERT_OK(Preprocessor::Fit(t, {0, 1, 2}, options, p, notes));
  Preprocessor q;
  ASSERT_OK(Preprocessor::FromJson(p.ToJson(), q));
  EXPECT_EQ(q.ToJson(), p.ToJson());
  EXPECT_EQ(q.cardinality(), (std::vector<int64_t>{3}));
  std::vector<float> dense;
  std::vector<int64_t> codes;
  ASSERT_OK(q.Transform(t, {0, 1, 3}, dense, codes));
  EXPECT_EQ(codes, (std::vector<int64_t>{2, 1, 0}));  // red, blue, green (unseen)
}

TEST(PreprocessTest, ExplainsMissingColumnsTargetsAndClasses) {
  Table t = SmallTable();
  Preprocessor p;
  std::vector<std::string> notes;
  FitOptions options;
  options.target = "why";
  EXPECT_EQ(Preprocessor::Fit(t, {0, 1}, options, p, notes).message(),
            "mem.csv: no column named 'why' (columns: x, colour, y)");
  options.target = "";
  ASSERT_OK(Preprocessor::Fit(t, {0, 1}, options, p, notes));
  Table other = t;
  other.columns[0].name = "z";
  std::vector<float> dense;
  std::vector<int64_t> codes;
  EXPECT_EQ(p.Transform(other, {0}, dense, codes).message(), "mem.csv: no column 'x', which the model reads");
  t.rows[3][2].text = "c";
  std::vector<int64_t> classes;
  std::vector<float> values;
  EXPECT_EQ(p.Targets(t, {3}, classes, values).message(),
            "mem.csv:5: class 'c' of 'y' was not seen in the training rows");
}

}  // namespace
}  // namespace sluice::tabular
