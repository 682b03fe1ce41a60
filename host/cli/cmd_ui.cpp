// sluice ui: the run history in a browser. A read-only web app over the store, from this
// binary (its pages and uPlot are embedded at build time), and the JSON API under /api/
// that the pages use, in the shapes of the CLI's --json (host/ui/README.md).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

#include <boost/beast/http/field.hpp>

#include "commands.hpp"
#include "exec/interrupt.hpp"
#include "history_json.hpp"
#include "http/server.hpp"
#include "options.hpp"
#include "run_query.hpp"
#include "table.hpp"
#include "ui/assets.hpp"
#include "ui/series.hpp"

namespace sluice::cli {

namespace {

namespace fs = std::filesystem;
using http::StatusCode;
using Field = boost::beast::http::field;

// Most points of one series a chart is sent; most runs one page of the table holds; the
// largest artifact served (read whole into memory).
constexpr size_t kMaxPoints = 2000;
constexpr int64_t kMaxRunsPerPage = 5000;
constexpr uintmax_t kMaxArtifactBytes = 256u << 20;
constexpr size_t kMaxFields = 50;  // field=... columns of one runs request

// Every parameter and metric key in the store, kept up to date incrementally: each
// request reads only the runs and series added since the last (a scan of 10,000 runs' 500,000
// series is a third of a second; the runs page needs the keys before it can draw).
struct ColumnKeys {
  int64_t runs_seen = 0, series_seen = 0;  // rowids read up to
  std::set<std::string> params, metrics;
};

struct UiState {
  std::mutex mutex;  // one database connection, one request at a time
  std::unique_ptr<store::RunStore> store;
  fs::path store_dir;
  ColumnKeys columns;
};

// A request the client got wrong: its status and message.
struct ClientError {
  StatusCode status;
  std::string message;
};

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (c == '%') {
      throw ClientError{StatusCode::bad_request, "malformed percent-encoding in the URL"};
    } else {
      out += c;
    }
  }
  return out;
}

struct Url {
  std::vector<std::string> segments;                       // decoded, without empty ones
  std::vector<std::pair<std::string, std::string>> pairs;  // every name and value, in order

  // The last value given for `key`, or null.
  const std::string* Find(const std::string& key) const {
    for (auto it = pairs.rbegin(); it != pairs.rend(); ++it) {
      if (it->first == key) return &it->second;
    }
    return nullptr;
  }
  bool Has(const std::string& key) const { return Find(key) != nullptr; }
  std::vector<std::string> All(const std::string& key) const {
    std::vector<std::string> values;
    for (const auto& [k, v] : pairs) {
      if (k == key) values.push_back(v);
    }
    return values;
  }

  std::string Param(const std::string& key, const std::string& fallback = "") const {
    const std::string* value = Find(key);
    return value ? *value : fallback;
  }
  int64_t Int(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
    const std::string* text = Find(key);
    if (!text || text->empty()) return fallback;
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(*text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text->size() || v < lo || v > hi) {
      throw ClientError{StatusCode::bad_request, "query parameter '" + key + "': expected a whole number from " +
                                                     std::to_string(lo) + " to " + std::to_string(hi)};
    }
    return v;
  }
  double Number(const std::string& key, double fallback, double lo, double hi) const {
    const std::string* text = Find(key);
    if (!text || text->empty()) return fallback;
    size_t used = 0;
    double v = NAN;
    try {
      v = std::stod(*text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text->size() || !(v >= lo && v <= hi)) {
      throw ClientError{StatusCode::bad_request, "query parameter '" + key + "': expected a number from " +
                                                     HumanNumber(lo) + " to " + HumanNumber(hi)};
    }
    return v;
  }
};

Url ParseUrl(std::string_view target) {
  Url url;
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    if (end > begin) url.segments.push_back(PercentDecode(path.substr(begin, end - begin), false));
    begin = end + 1;
  }
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    begin = 0;
    while (begin < query.size()) {
      size_t end = query.find('&', begin);
      if (end == std::string_view::npos) end = query.size();
      const std::string_view pair = query.substr(begin, end - begin);
      const size_t eq = pair.find('=');
      if (!pair.empty()) {
        std::string name = PercentDecode(pair.substr(0, eq), true);
        std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
        url.pairs.emplace_back(std::move(name), std::move(value));
      }
      begin = end + 1;
    }
  }
  return url;
}

http::Response Json(const json& body) { return http::MakeResponse(StatusCode::ok, Dump(body, -1)); }

// The run or study an id (or a prefix of one) in the URL names; one it does not name is
// the client's error.
store::RunRecord FindRun(store::RunStore& store, const std::string& id) {
  try {
    return store.FindRun(id);
  } catch (const store::StoreError& e) {
    throw ClientError{StatusCode::not_found, e.what()};
  }
}

store::StudyRecord FindStudy(store::StudyStore& studies, const std::string& id) {
  try {
    return studies.FindStudy(id);
  } catch (const store::StoreError& e) {
    throw ClientError{StatusCode::not_found, e.what()};
  }
}

// GET /api/runs: the runs table, a page at a time, `runs list --json`'s objects with their
// parameters, the study and trial; the count of all that match in X-Total-Count.
http::Response Runs(UiState& state, const Url& url) {
  store::RunFilter filter;
  if (url.Has("pipeline")) filter.pipeline = url.Param("pipeline");
  if (url.Has("status")) {
    filter.status = url.Param("status");
    if (!store::FromName<store::RunStatus>(store::kRunStatusNames, *filter.status)) {
      throw ClientError{StatusCode::bad_request, "unknown status '" + *filter.status + "'"};
    }
  }
  for (const char* key : {"where", "order_by"}) {
    const std::string text = url.Param(key);
    if (text.empty()) continue;
    try {
      if (std::string(key) == "where") {
        filter.where = store::CompileWhere(text, state.store->db().dialect());
      } else {
        filter.order_by = store::CompileOrderBy(text, state.store->db().dialect());
      }
    } catch (const store::QueryError& e) {
      return http::MakeResponse(
          StatusCode::bad_request,
          Dump(json{{"error", std::string(key) + ": " + e.Render(text)}, {"column", e.column()}}, -1));
    }
  }
  // Columns beyond the latest metrics and the parameters: any field of the --where
  // language, such as min(metrics.train.loss) or metrics.train.loss@500.
  const std::vector<std::string> field_names = url.All("field");
  if (field_names.size() > kMaxFields) {
    throw ClientError{StatusCode::bad_request, "at most " + std::to_string(kMaxFields) + " fields"};
  }
  std::vector<store::SqlFragment> fields;
  for (const std::string& name : field_names) {
    try {
      fields.push_back(store::FieldExpression(name, state.store->db().dialect()));
    } catch (const store::QueryError& e) {
      return http::MakeResponse(StatusCode::bad_request, Dump(json{{"error", "field: " + e.Render(name)}}, -1));
    }
  }
  filter.limit = url.Int("limit", 100, 1, kMaxRunsPerPage);
  filter.offset = url.Int("offset", 0, 0, std::numeric_limits<int32_t>::max());
  const bool with_params = url.Param("params", "1") != "0";
  store::RunStore& store = *state.store;
  if (url.Has("study")) {
    store::StudyStore studies(store);
    filter.study_id = FindStudy(studies, url.Param("study")).id;
  }
  const int64_t total = store.CountRuns(filter);
  const std::vector<store::RunRecord> runs = store.ListRuns(filter);
  std::vector<std::string> ids;
  for (const store::RunRecord& r : runs) ids.push_back(r.id);
  const auto values = store.FieldValues(ids, fields);
  json out = json::array();
  for (size_t i = 0; i < runs.size(); ++i) {
    const store::RunRecord& r = runs[i];
    json j = RunSummaryJson(r);
    if (!fields.empty()) {
      json named = json::object();
      for (size_t f = 0; f < fields.size(); ++f) {
        const auto& v = values[i][f];
        named[field_names[f]] = std::holds_alternative<double>(v)        ? NumberOrNull(std::get<double>(v))
                                : std::holds_alternative<std::string>(v) ? json(std::get<std::string>(v))
                                                                         : json(nullptr);
      }
      j["fields"] = std::move(named);
    }
    j["study"] = r.study_id ? json(*r.study_id) : json(nullptr);
    j["trial"] = r.trial ? json(*r.trial) : json(nullptr);
    j["metrics"] = MetricsJson(store.LatestMetrics(r.id));
    if (with_params) j["params"] = ParamsJson(store.Params(r.id));
    out.push_back(std::move(j));
  }
  http::Response response = Json(out);
  response.set("X-Total-Count", std::to_string(total));
  return response;
}

void UpdateColumns(UiState& state) {
  store::Database& db = state.store->db();
  ColumnKeys& c = state.columns;
  int64_t runs = 0, series = 0;
  // PostgreSQL's runs have no rowid: their count says whether any came, and then every
  // key is read again.
  const bool postgres = db.dialect() == store::Dialect::kPostgres;
  {
    store::Statement q =
        db.Prepare(postgres ? "SELECT (SELECT count(*) FROM runs), (SELECT max(id) FROM metric_series)"
                            : "SELECT (SELECT max(rowid) FROM runs), (SELECT max(id) FROM metric_series)");
    if (q.Step()) {
      runs = q.Int(0);
      series = q.Int(1);
    }
  }
  if (postgres && runs != c.runs_seen) {
    store::Statement q = db.Prepare("SELECT DISTINCT key FROM params");
    while (q.Step()) c.params.insert(q.Text(0));
    c.runs_seen = runs;
  }
  // A run's parameters are written with the run, in one transaction.
  if (!postgres && runs > c.runs_seen) {
    store::Statement q = db.Prepare(
        "SELECT DISTINCT p.key FROM runs r JOIN params p ON p.run_id = r.id WHERE r.rowid > ? AND r.rowid <= ?");
    q.Bind(1, c.runs_seen);
    q.Bind(2, runs);
    while (q.Step()) c.params.insert(q.Text(0));
    c.runs_seen = runs;
  }
  if (series > c.series_seen) {
    store::Statement q = db.Prepare("SELECT DISTINCT key FROM metric_series WHERE id > ? AND id <= ?");
    q.Bind(1, c.series_seen);
    q.Bind(2, series);
    while (q.Step()) c.metrics.insert(q.Text(0));
    c.series_seen = series;
  }
}

// GET /api/columns: every parameter and metric key in the store (the table's columns).
http::Response Columns(UiState& state) {
  UpdateColumns(state);
  return Json({{"params", state.columns.params}, {"metrics", state.columns.metrics}});
}

// GET /api/runs/{id}: `runs show --json` and what a run page shows besides: with `stats`, each metric's latest,
// min, max and length (a scan of every point); without, only the keys of the series with
// more than one point (the charts; an index lookup each).
json RunPage(UiState& state, const std::string& id, bool stats) {
  store::RunStore& store = *state.store;
  const store::RunRecord run = FindRun(store, id);
  json j = RunJson(store, run);
  if (stats) {
    json summary = json::object();
    for (const store::MetricStats& m : store.MetricSummary(run.id)) {
      summary[m.key] = {{"latest", NumberOrNull(m.value)},
                        {"step", m.step},
                        {"min", NumberOrNull(m.min)},
                        {"max", NumberOrNull(m.max)},
                        {"points", m.points}};
    }
    j["metric_stats"] = std::move(summary);
  } else {
    j["chart_keys"] = store.CurveKeys(run.id);
  }
  json stages = json::array();
  for (const store::StageRecord& s : store.Stages(run.id)) {
    stages.push_back({{"name", s.name},
                      {"started_at", s.started_at ? json(*s.started_at) : json(nullptr)},
                      {"ended_at", s.ended_at ? json(*s.ended_at) : json(nullptr)}});
  }
  j["stage_times"] = std::move(stages);
  j["command"] = run.command;
  j["host"] = run.host;
  return j;
}

// One series of a run: smoothed (W in [0, 1), TensorBoard's), then downsampled to at most
// `limit` points (largest triangle three buckets, chosen on the smoothed values), as columns.
json SeriesJson(store::RunStore& store, const std::string& run_id, const std::string& key, size_t limit,
                double smoothing, bool with_time) {
  const std::vector<store::MetricPoint> points = store.MetricHistory(run_id, key);
  if (points.empty()) throw ClientError{StatusCode::not_found, "run " + run_id + " has no metric '" + key + "'"};
  std::vector<double> steps, values;
  steps.reserve(points.size());
  values.reserve(points.size());
  for (const auto& p : points) {
    steps.push_back(static_cast<double>(p.step));
    values.push_back(p.value);
  }
  const std::vector<double> smoothed = ui::Smooth(values, smoothing);
  const std::vector<size_t> kept = ui::Lttb(steps, smoothed, limit);
  json step = json::array(), value = json::array(), time = json::array(), smooth = json::array();
  for (size_t i : kept) {
    step.push_back(points[i].step);
    value.push_back(NumberOrNull(points[i].value));
    if (with_time) time.push_back(points[i].logged_at);
    if (smoothing > 0) smooth.push_back(NumberOrNull(smoothed[i]));
  }
  json out = {{"run", run_id},          {"key", key},   {"total", points.size()},
              {"smoothing", smoothing}, {"step", step}, {"value", value}};
  if (with_time) out["time"] = std::move(time);
  if (smoothing > 0) out["smoothed"] = smooth;
  return out;
}

// GET /api/runs/{id}/metrics/{key}?points=N&smoothing=W: one series (SeriesJson).
// GET /api/runs/{id}/metrics?key=K1&key=K2...: several, in one answer (a page's first
// screen of charts in one request), as an array in the order asked.
json Series(UiState& state, const std::string& id, const std::vector<std::string>& keys, const Url& url) {
  store::RunStore& store = *state.store;
  const store::RunRecord run = FindRun(store, id);
  if (keys.empty()) throw ClientError{StatusCode::bad_request, "name the series: ?key=KEY (one or more)"};
  if (keys.size() > 100) throw ClientError{StatusCode::bad_request, "at most 100 series in one request"};
  const auto limit = static_cast<size_t>(url.Int("points", kMaxPoints, 3, kMaxPoints));
  const double smoothing = url.Number("smoothing", 0, 0, 0.999);
  json out = json::array();
  const bool with_time = url.Param("time", "1") != "0";
  for (const std::string& key : keys) out.push_back(SeriesJson(store, run.id, key, limit, smoothing, with_time));
  return out;
}

const char* ContentType(const fs::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".csv") return "text/csv; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".txt" || ext == ".log" || ext == ".toml") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// GET /api/runs/{id}/artifacts/{stage}/{name}: an artifact the run recorded, found by its
// stage and name in the store's records (never by a path from the URL), and only where the
// file it names lies inside the store.
http::Response Artifact(UiState& state, const std::string& id, const std::string& stage, const std::string& name,
                        const Url& url) {
  store::RunStore& store = *state.store;
  const store::RunRecord run = FindRun(store, id);
  for (const store::ArtifactRecord& a : store.Artifacts(run.id)) {
    if (a.stage != stage || a.name != name) continue;
    std::error_code ec;
    const fs::path file = fs::canonical(a.path, ec);
    const fs::path root = fs::canonical(state.store_dir, ec);
    const fs::path inside = file.lexically_relative(root);
    if (file.empty() || inside.empty() || *inside.begin() == "..") {
      throw ClientError{StatusCode::not_found,
                        "artifact " + stage + "/" + name + " of run " + run.id + " is missing from the store"};
    }
    const uintmax_t bytes = fs::file_size(file, ec);
    if (ec || bytes > kMaxArtifactBytes) {
      throw ClientError{StatusCode::payload_too_large,
                        "artifact " + stage + "/" + name + " is over 256 MiB; read it from the store folder"};
    }
    std::ifstream in(file, std::ios::binary);
    std::string body(static_cast<size_t>(bytes), '\0');
    if (!in.read(body.data(), static_cast<std::streamsize>(bytes))) {
      throw ClientError{StatusCode::internal_server_error, "cannot read artifact " + stage + "/" + name};
    }
    http::Response r = http::MakeResponse(StatusCode::ok, std::move(body), ContentType(a.path));
    // What a plugin wrote is shown, never run: no scripts, not even in an SVG opened alone.
    r.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    r.set("X-Content-Type-Options", "nosniff");
    if (url.Param("download") == "1") {
      r.set(Field::content_disposition, "attachment; filename=\"" + fs::path(a.path).filename().string() + "\"");
    }
    return r;
  }
  throw ClientError{StatusCode::not_found, "run " + run.id + " recorded no artifact " + stage + "/" + name};
}

http::Response Studies(UiState& state, const Url& url) {
  store::StudyStore studies(*state.store);
  std::optional<std::string> pipeline;
  if (url.Has("pipeline")) pipeline = url.Param("pipeline");
  json out = json::array();
  for (const store::StudyRecord& study : studies.ListStudies(pipeline, url.Int("limit", 200, 1, 100000))) {
    out.push_back(StudySummaryJson(studies, study));
  }
  return Json(out);
}

http::Response Study(UiState& state, const std::string& id) {
  store::StudyStore studies(*state.store);
  return Json(StudyJson(studies, FindStudy(studies, id)));
}

// GET /api/models: `models list --json`, each version with its source run's metrics.
http::Response Models(UiState& state) {
  json out = json::array();
  for (const store::ModelRecord& m : state.store->ListModels()) {
    json j = ModelJson(m, false);
    json metrics = json::object();
    if (m.run_id) metrics = MetricsJson(state.store->LatestMetrics(*m.run_id));
    j["metrics"] = std::move(metrics);
    out.push_back(std::move(j));
  }
  return Json(out);
}

http::Response Api(UiState& state, const Url& url) {
  const auto& s = url.segments;  // s[0] == "api"
  const size_t n = s.size();
  if (n == 2 && s[1] == "runs") return Runs(state, url);
  if (n == 2 && s[1] == "columns") return Columns(state);
  if (n == 3 && s[1] == "runs") return Json(RunPage(state, s[2], true));
  if (n == 4 && s[1] == "runs" && s[3] == "metrics") return Json(Series(state, s[2], url.All("key"), url));
  if (n == 5 && s[1] == "runs" && s[3] == "metrics") return Json(Series(state, s[2], {s[4]}, url)[0]);
  if (n == 6 && s[1] == "runs" && s[3] == "artifacts") return Artifact(state, s[2], s[4], s[5], url);
  if (n == 2 && s[1] == "studies") return Studies(state, url);
  if (n == 3 && s[1] == "studies") return Study(state, s[2]);
  if (n == 2 && s[1] == "models") return Models(state);
  throw ClientError{StatusCode::not_found, "no such API route (see host/ui/README.md)"};
}

const ui::Asset* FindAsset(std::string_view url) {
  for (const ui::Asset& a : ui::Assets()) {
    if (a.url == url) return &a;
  }
  return nullptr;
}

// A run page's HTML carries the run, all its first screen needs (RunPage without the
// metrics' statistics, which the page asks for once that screen is drawn), in a JSON script
// element: one request fewer before the page can draw. A run it cannot find is left for the
// page to ask about (and say so).
std::string WithRun(UiState& state, std::string html, const std::string& id) {
  std::string data;
  try {
    std::lock_guard<std::mutex> lock(state.mutex);
    data = Dump(RunPage(state, id, false), -1);
  } catch (const ClientError&) {
    return html;
  }
  // Inside the element, "</script" would close it and "<!--" change how it is read: every
  // "<" (only ever in a JSON string) is written \u003c instead.
  std::string escaped;
  escaped.reserve(data.size());
  for (const char c : data) {
    if (c == '<') {
      escaped += "\\u003c";
    } else {
      escaped += c;
    }
  }
  const size_t head = html.find("<script>");
  if (head == std::string::npos) return html;
  html.insert(head, "<script type=\"application/json\" id=\"sluice-run\">" + escaped + "</script>\n");
  return html;
}

http::Response Page(UiState& state, const Url& url, std::string_view path) {
  if (const ui::Asset* asset = path.rfind("/assets/", 0) == 0 ? FindAsset(path) : nullptr) {
    std::string type(asset->content_type);
    if (type.rfind("text/", 0) == 0) type += "; charset=utf-8";
    http::Response r = http::MakeResponse(StatusCode::ok, std::string(asset->content), type.c_str());
    r.set(Field::cache_control, "no-cache");
    return r;
  }
  const auto& s = url.segments;
  if (s.size() == 1 && s[0] == "favicon.ico") return http::MakeResponse(StatusCode::no_content, "", "image/x-icon");
  // The pages are one app: each of its paths gets index.html, which reads the path.
  const bool page = s.empty() || (s.size() == 1 && (s[0] == "studies" || s[0] == "models" || s[0] == "compare")) ||
                    (s.size() == 2 && (s[0] == "runs" || s[0] == "studies"));
  if (!page) throw ClientError{StatusCode::not_found, "no page here"};
  std::string html(FindAsset("/")->content);
  if (s.size() == 2 && s[0] == "runs") html = WithRun(state, std::move(html), s[1]);
  http::Response r = http::MakeResponse(StatusCode::ok, std::move(html), "text/html; charset=utf-8");
  r.set(Field::cache_control, "no-cache");
  return r;
}

void Handle(UiState& state, const http::Request& request, const http::Respond& respond) {
  const auto method = request.method();
  if (method != boost::beast::http::verb::get && method != boost::beast::http::verb::head) {
    http::Response r = http::ErrorResponse(StatusCode::method_not_allowed, "sluice ui is read-only: GET only");
    r.set(Field::allow, "GET, HEAD");
    return respond(std::move(r));
  }
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  http::Response response;
  try {
    const Url url = ParseUrl(target);
    if (!url.segments.empty() && url.segments[0] == "api") {
      std::lock_guard<std::mutex> lock(state.mutex);
      response = Api(state, url);
    } else {
      response = Page(state, url, path);
    }
  } catch (const ClientError& e) {
    response = http::ErrorResponse(e.status, e.message);
  } catch (const std::exception& e) {
    response = http::ErrorResponse(StatusCode::internal_server_error, e.what());
  }
  response.set("X-Content-Type-Options", "nosniff");
  respond(std::move(response));
}

}  // namespace

int UiCommand(const Args& args) {
  po::options_description options("sluice ui options");
  options.add_options()("help,h", "show this help")("host", po::value<std::string>()->default_value("127.0.0.1"),
                                                    "address to listen on")(
      "port", po::value<int>()->default_value(5000), "port (0: any free port)")(
      "io-threads", po::value<int>()->default_value(1), "threads answering requests")(
      "store", po::value<std::string>()->default_value(""), "store folder");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice ui [--host 127.0.0.1] [--port 5000] [--store DIR]\n\n"
                       "A read-only web app over the store: runs, run pages with charts, comparisons,\n"
                       "studies and the model registry, and its JSON API under /api/ (host/ui/README.md).")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {});
  const int port = vm["port"].as<int>();
  if (port < 0 || port > 65535) throw po::error("--port must be from 0 to 65535");
  const int io_threads = vm["io-threads"].as<int>();
  if (io_threads < 1 || io_threads > 64) throw po::error("--io-threads must be from 1 to 64");
  UiState state;
  state.store = OpenExistingStore(vm["store"].as<std::string>());
  state.store_dir = state.store->dir();
  UpdateColumns(state);  // the one full scan, before the first page asks
  const std::string host = vm["host"].as<std::string>();

  http::ServerOptions server_options;
  server_options.host = host;
  server_options.port = static_cast<uint16_t>(port);
  server_options.max_body_bytes = 64 << 10;  // GET only
  server_options.io_threads = io_threads;
  http::Server server(server_options,
                      [&state](http::Request&& request, http::Respond respond) { Handle(state, request, respond); });
  if (Status s = server.Listen(); !s.ok()) {
    std::cerr << "sluice ui: error: " << s.message() << "\n";
    return kExitFailed;
  }
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  exec::OnFirstStop("\nsluice ui: stopping\n", [&] {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
    wake.notify_all();
  });
  server.Start();
  const std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!http::IsLoopback(host)) {
    std::cerr << "sluice ui: warning: --host " << host
              << " lets other machines read this store's run history (there is no login)\n";
  }
  const std::string& location = state.store->location();
  std::cerr << "sluice ui: "
            << (store::Database::IsUrl(location)
                    ? store::RedactUrl(location) + " (files in " + state.store_dir.string() + ")"
                    : state.store_dir.string())
            << " on http://" << shown_host << ":" << server.port() << " (pid " << getpid() << ")" << std::endl;
  {
    std::unique_lock<std::mutex> lock(mutex);
    wake.wait(lock, [&] { return stopping || exec::StopRequested(); });
  }
  server.Shutdown(std::chrono::milliseconds(2000));
  std::cerr << "sluice ui: stopped\n";
  return kExitOk;
}

}  // namespace sluice::cli
