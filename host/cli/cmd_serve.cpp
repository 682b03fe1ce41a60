// sluice serve MODEL... [--host H] [--port P] [--store S] [--max-batch B] [--max-delay-ms D]
//                       [--threads N] [--token-file F] ...
//
// Each MODEL (a bundle folder or NAME, NAME:VERSION, NAME@ALIAS) is loaded once: its model
// plugin rebuilds the network and the model-server plugin hands it to this host, which
// answers MLflow's scoring protocol and the Open Inference Protocol over HTTP, batching
// concurrent requests into one forward pass. NAME and NAME@ALIAS are followed: when the
// registry moves them, the new version is loaded beside the old one and takes the next
// requests; those already read finish on the old one.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include "bundles.hpp"
#include "commands.hpp"
#include "exec/environment.hpp"
#include "exec/interrupt.hpp"
#include "http/server.hpp"
#include "integrity.hpp"
#include "options.hpp"
#include "serve/metrics.hpp"
#include "serve/models.hpp"
#include "serve/protocol.hpp"
#include "sluice/config.h"
#include "sluice/excerpt.hpp"

namespace sluice::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;
using http::StatusCode;

namespace {

using Clock = std::chrono::steady_clock;

struct Served {
  std::unique_ptr<serve::ModelSlot> slot;
  fs::path bundle;
};

// Everything a request may touch, alive until the server has stopped.
struct ServeState {
  plugin::PluginRegistry registry;
  serve::Metrics metrics;
  std::map<std::string, Served> models;  // by route name
  std::string token;                     // empty: no authentication
  std::string device, precision;
  std::string store_dir;
  http::Server* server = nullptr;
  std::atomic<bool> stopping{false};
};

// The pipeline that loads `bundle` (its manifest read) for serving: its model plugin, then
// model-server.
std::optional<pipeline::ResolvedPipeline> ServingPipeline(const plugin::PluginRegistry& registry, const json& manifest,
                                                          const fs::path& bundle, const std::string& label,
                                                          const std::string& device, const std::string& precision,
                                                          std::string& error) {
  pipeline::PipelineBuilder b = BundlePipeline("serve", manifest, label);
  b.Stage("serve", "model-server")
      .Input("model", "model.model")
      .Param("bundle", Value(fs::absolute(bundle).string()))
      .Param("device", Value(device))
      .Param("precision", Value(precision));
  pipeline::Diagnostics diag;
  std::optional<pipeline::ResolvedPipeline> resolved = b.Validate(
      registry, "the bundle needs the model plugin it was trained with (install that version, or retrain)", diag);
  if (!resolved) error = diag.Render(pipeline::SourceTexts()) + label + " cannot be served here";
  return resolved;
}

// --threads 0: a text model's forward pass is most of a request, and on the CPU one
// inference thread per core, each running LibTorch's operators on one thread, answers more
// than one thread spreading each pass over every core (MiniLM in bf16, 16 clients, 2 cores:
// 200 requests/s against 146, where LibTorch's threads spent a fifth of the time waiting for
// each other). A table or image model's pass is short beside reading and writing HTTP, which
// needs a core of its own (credit-risk: 10-15% fewer requests/s with two). On the CPU each
// inference thread runs LibTorch's operators on its share of the cores.
serve::BatchOptions InferenceThreads(serve::BatchOptions options, const json& manifest, const std::string& device) {
  const int cores = static_cast<int>(std::max(1u, exec::HardwareThreads()));
  const bool cpu = device == "cpu";
  if (options.threads == 0) options.threads = cpu && manifest.value("input", "") == "text" ? cores : 1;
  if (cpu) options.intra_op_threads = std::max(1, cores / options.threads);
  return options;
}

std::string Trimmed(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// Compares without stopping at the first difference (no timing to learn the token from).
bool SameToken(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string RouteList(const ServeState& state) {
  std::string names;
  for (const auto& [name, served] : state.models) names += (names.empty() ? "" : ", ") + name;
  return names;
}

json Health(const ServeState& state) {
  json models = json::object();
  for (const auto& [name, served] : state.models) models[name] = served.slot->current()->version();
  return {{"status", state.stopping ? "stopping" : "ok"}, {"models", models}};
}

// Routes one request. `respond` answers it (from this thread or an inference thread).
void Handle(ServeState& state, http::Request&& request, const http::Respond& respond_raw) {
  const Clock::time_point arrived = Clock::now();
  std::string target(request.target());
  if (const auto q = target.find('?'); q != std::string::npos) target.resize(q);
  const auto method = request.method();
  // Every answer is counted, by model (when one was named) and route.
  auto respond = [&state, respond_raw, arrived](const std::string& model, const std::string& route,
                                                http::Response response) {
    state.metrics.Request(model, route, static_cast<int>(response.result_int()),
                          std::chrono::duration<double>(Clock::now() - arrived).count());
    respond_raw(std::move(response));
  };
  auto error = [&](const std::string& model, const std::string& route, StatusCode status, const std::string& message) {
    respond(model, route, http::ErrorResponse(status, message));
  };
  const bool get = method == boost::beast::http::verb::get || method == boost::beast::http::verb::head;
  const bool post = method == boost::beast::http::verb::post;

  // Liveness and readiness answer without a token (orchestrators probe them).
  if (target == "/ping" || target == "/health" || target == "/v2/health/live" || target == "/v2/health/ready") {
    if (!get) return error("", "health", StatusCode::method_not_allowed, "use GET " + target);
    const bool ready_probe = target == "/v2/health/ready" || target == "/health";
    const StatusCode status = ready_probe && state.stopping ? StatusCode::service_unavailable : StatusCode::ok;
    return respond("", "health", http::MakeResponse(status, Health(state).dump() + "\n"));
  }
  if (!state.token.empty()) {
    const std::string given(request[boost::beast::http::field::authorization]);
    if (given.rfind("Bearer ", 0) != 0 || !SameToken(given.substr(7), state.token)) {
      http::Response denied =
          http::ErrorResponse(StatusCode::unauthorized, "missing or wrong bearer token (Authorization: Bearer ...)");
      denied.set(boost::beast::http::field::www_authenticate, "Bearer");
      return respond("", "auth", std::move(denied));
    }
  }
  if (target == "/version") {
    if (!get) return error("", "version", StatusCode::method_not_allowed, "use GET /version");
    return respond(
        "", "version",
        http::MakeResponse(StatusCode::ok,
                           json{{"sluice", SLUICE_SDK_VERSION}, {"models", Health(state)["models"]}}.dump() + "\n"));
  }
  if (target == "/metrics") {
    if (!get) return error("", "metrics", StatusCode::method_not_allowed, "use GET /metrics");
    return respond(
        "", "metrics",
        http::MakeResponse(StatusCode::ok, state.metrics.Render(state.server->connections(), state.server->in_flight()),
                           "text/plain; version=0.0.4"));
  }
  if (target == "/v2") {
    if (!get) return error("", "v2", StatusCode::method_not_allowed, "use GET /v2");
    return respond(
        "", "v2",
        http::MakeResponse(
            StatusCode::ok,
            json{{"name", "sluice"}, {"version", SLUICE_SDK_VERSION}, {"extensions", json::array()}}.dump() + "\n"));
  }

  // The model a route names: /invocations (one model), /models/NAME/invocations,
  // /v2/models/NAME[/versions/V][/ready|/infer].
  std::string name, action, route;
  std::optional<std::string> version;
  if (target == "/invocations") {
    if (state.models.size() != 1) {
      return error("", "invocations", StatusCode::bad_request,
                   "serving " + std::to_string(state.models.size()) + " models (" + RouteList(state) +
                       "): POST /models/NAME/invocations");
    }
    name = state.models.begin()->first;
    action = "invocations";
  } else if (target.rfind("/models/", 0) == 0 && target.size() > 20 &&
             target.compare(target.size() - 12, 12, "/invocations") == 0) {
    name = target.substr(8, target.size() - 8 - 12);
    action = "invocations";
  } else if (target.rfind("/v2/models/", 0) == 0) {
    std::string rest = target.substr(11);
    const auto slash = rest.find('/');
    name = rest.substr(0, slash);
    rest = slash == std::string::npos ? "" : rest.substr(slash);
    if (rest.rfind("/versions/", 0) == 0) {
      const auto end = rest.find('/', 10);
      version = rest.substr(10, end == std::string::npos ? std::string::npos : end - 10);
      rest = end == std::string::npos ? "" : rest.substr(end);
    }
    action = rest.empty() ? "metadata" : rest == "/ready" ? "ready" : rest == "/infer" ? "infer" : "";
  }
  if (action.empty() || name.empty()) {
    return error("", "unknown", StatusCode::not_found,
                 "no route " + std::string(request.method_string()) + " " + Excerpt(target, 100) +
                     "; the routes are /invocations, /models/NAME/invocations, /v2/models/NAME[/infer|/ready], "
                     "/ping, /health, /version, /metrics, /v2/health/live, /v2/health/ready");
  }
  route = action;
  auto found = state.models.find(name);
  if (found == state.models.end()) {
    return error("", route, StatusCode::not_found,
                 "no model named '" + Excerpt(name, 100) + "' is served here (serving: " + RouteList(state) + ")");
  }
  serve::ModelSlot& slot = *found->second.slot;
  std::shared_ptr<serve::LoadedModel> model = slot.current();
  if (version && *version != std::to_string(model->version())) {
    return error(name, route, StatusCode::not_found,
                 "version " + Excerpt(*version, 20) + " of " + name + " is not served here (serving version " +
                     std::to_string(model->version()) + ")");
  }
  if (action == "metadata" || action == "ready") {
    if (!get) return error(name, route, StatusCode::method_not_allowed, "use GET " + Excerpt(target, 100));
    if (action == "ready") {
      return respond(
          name, route,
          http::MakeResponse(StatusCode::ok,
                             json{{"name", name}, {"ready", true}, {"version", model->version()}}.dump() + "\n"));
    }
    return respond(name, route,
                   http::MakeResponse(StatusCode::ok,
                                      serve::ModelMetadata(model->info(), name, model->version(), slot.reference())));
  }
  if (!post) return error(name, route, StatusCode::method_not_allowed, "use POST " + Excerpt(target, 100));

  auto job = std::make_unique<serve::Job>();
  job->arrived = arrived;
  Status parsed;
  std::string id;
  if (action == "invocations") {
    const std::string content_type(request[boost::beast::http::field::content_type]);
    if (!content_type.empty() && content_type.rfind("application/json", 0) != 0 &&
        content_type.rfind("text/csv", 0) != 0) {
      return error(name, route, StatusCode::unsupported_media_type,
                   "Content-Type '" + Excerpt(content_type) + "': send application/json or text/csv");
    }
    parsed = serve::ParseScoring(request.body(), content_type, model->info(), job->rows);
  } else {
    parsed = serve::ParseInfer(request.body(), model->info(), job->rows, id);
  }
  if (!parsed.ok()) {
    return error(
        name, route,
        parsed.code() == Status::Code::kInvalidArgument ? StatusCode::bad_request : StatusCode::internal_server_error,
        parsed.message());
  }
  const bool infer = action == "infer";
  if (job->rows.empty()) {
    std::vector<double> none;
    return respond(name, route,
                   http::MakeResponse(StatusCode::ok,
                                      infer ? serve::FormatInfer(model->info(), name, model->version(), id, none, 0)
                                            : serve::FormatScoring(model->info(), none, 0)));
  }
  job->model = std::move(model);
  job->done = [respond, name, route, infer, id](const Status& status, const serve::LoadedModel& used,
                                                std::vector<double>& out) {
    if (!status.ok()) {
      const bool client = status.code() == Status::Code::kInvalidArgument;
      respond(
          name, route,
          http::ErrorResponse(client ? StatusCode::bad_request : StatusCode::internal_server_error, status.message()));
      return;
    }
    const size_t rows = out.size() / static_cast<size_t>(std::max<int64_t>(1, used.info().output_width));
    http::Response response =
        http::MakeResponse(StatusCode::ok, infer ? serve::FormatInfer(used.info(), name, used.version(), id, out, rows)
                                                 : serve::FormatScoring(used.info(), out, rows));
    response.set("X-Sluice-Model-Version", std::to_string(used.version()));
    respond(name, route, std::move(response));
  };
  slot.Submit(std::move(job));
}

// Follows registry references: when NAME or NAME@ALIAS resolves to another version,
// loads it and switches the slot to it. A version that fails to load is reported once and
// the old one kept.
void FollowAliases(ServeState& state, std::chrono::milliseconds every, std::mutex& mutex,
                   std::condition_variable& wake) {
  std::map<std::string, int64_t> failed;  // slot -> the version that would not load
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      if (wake.wait_for(lock, every, [&state] { return state.stopping.load(); })) return;
    }
    for (auto& [name, served] : state.models) {
      serve::ModelSlot& slot = *served.slot;
      if (!slot.follows()) continue;
      store::ModelRecord record;
      try {
        record = store::RunStore::OpenReadOnly(state.store_dir)->FindModel(slot.reference());
      } catch (const std::exception& e) {
        continue;  // a store being written, or the alias removed: keep serving what we have
      }
      const int64_t now = slot.current()->version();
      if (record.version == now || failed[name] == record.version) continue;
      const std::string label = "model " + record.name + " v" + std::to_string(record.version);
      std::string error;
      std::shared_ptr<serve::LoadedModel> loaded;
      try {
        if (Status s = store::VerifyModel(record); !s.ok()) throw store::StoreError(s.message());
        std::optional<pipeline::ResolvedPipeline> pipeline = ServingPipeline(
            state.registry, ReadManifest(record.path, label), record.path, label, state.device, state.precision, error);
        if (pipeline) loaded = serve::LoadedModel::Load(std::move(*pipeline), label, record.version, error);
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!loaded) {
        failed[name] = record.version;
        state.metrics.LoadFailed(name);
        std::cerr << "sluice serve: " << slot.reference() << " moved to v" << record.version
                  << ", which cannot be served; still serving v" << now << ": " << error << "\n";
        continue;
      }
      slot.Switch(std::move(loaded));
      std::cerr << "sluice serve: " << slot.reference() << " moved: serving v" << record.version << " (was v" << now
                << ")\n";
    }
  }
}

}  // namespace

int ServeCommand(const Args& args) {
  po::options_description options("sluice serve options");
  options.add_options()                                                                                          //
      ("help,h", "show this help")                                                                               //
      ("model", po::value<std::vector<std::string>>(), "bundle folders, or NAME[:VERSION|@ALIAS] in the store")  //
      ("host", po::value<std::string>()->default_value("127.0.0.1"), "address to listen on")                     //
      ("port", po::value<int>()->default_value(8080), "port to listen on (0: any free port)")                    //
      ("store", po::value<std::string>()->default_value(""), "store folder (for registered models)")             //
      ("max-batch", po::value<int64_t>()->default_value(64), "most rows in one forward pass")                    //
      ("max-delay-ms", po::value<double>()->default_value(0.0),
       "how long a request may wait for others to share its forward pass (0: only those already queued)")  //
      ("threads", po::value<int>()->default_value(0),
       "inference threads per model (0: one per core for a text model on the CPU, else 1)")   //
      ("io-threads", po::value<int>()->default_value(1), "threads reading and writing HTTP")  //
      ("device", po::value<std::string>()->default_value("cpu"), "cpu, cuda or cuda:N")       //
      ("precision", po::value<std::string>()->default_value("fp32"),
       "fp32, or bf16: matrix products and convolutions in bfloat16 (faster on CPUs with AVX-512 BF16)")       //
      ("token-file", po::value<std::string>(), "require 'Authorization: Bearer TOKEN', TOKEN read from here")  //
      ("no-auth", po::bool_switch(), "allow listening beyond loopback without --token-file")                   //
      ("max-body-mb", po::value<double>()->default_value(16.0), "largest request body, MB")                    //
      ("max-connections", po::value<int>()->default_value(256), "open connections at most")                    //
      ("max-in-flight-mb", po::value<double>()->default_value(64.0),
       "request bodies being answered at once, MB (more: 503, try again)")  //
      ("request-timeout-s", po::value<double>()->default_value(30.0),
       "seconds to read a request or write an answer; idle connections close after it")  //
      ("drain-timeout-s", po::value<double>()->default_value(30.0),
       "on SIGTERM or Ctrl-C, seconds to finish requests in flight")  //
      ("poll-ms", po::value<int>()->default_value(1000), "how often to look for a moved alias, ms");
  const char* usage =
      "usage: sluice serve MODEL... [--host 127.0.0.1] [--port 8080] [--store DIR] [--max-batch B] "
      "[--max-delay-ms D] [--threads N] [--token-file FILE]";
  if (PrintHelpIfAsked(args, options, usage)) return kExitOk;
  po::variables_map vm = ParseOptions(args, options, {"model"}, true);
  if (!vm.count("model")) throw po::error("the MODEL to serve is missing");
  const auto positive = [&vm](const char* flag, double value) {
    if (!(value > 0)) throw po::error(std::string("--") + flag + " must be positive");
  };
  positive("max-batch", static_cast<double>(vm["max-batch"].as<int64_t>()));
  if (vm["threads"].as<int>() < 0) throw po::error("--threads must not be negative");
  positive("io-threads", vm["io-threads"].as<int>());
  positive("max-body-mb", vm["max-body-mb"].as<double>());
  positive("max-in-flight-mb", vm["max-in-flight-mb"].as<double>());
  positive("max-connections", vm["max-connections"].as<int>());
  positive("request-timeout-s", vm["request-timeout-s"].as<double>());
  positive("poll-ms", vm["poll-ms"].as<int>());
  if (vm["max-delay-ms"].as<double>() < 0) throw po::error("--max-delay-ms must not be negative");
  if (vm["drain-timeout-s"].as<double>() < 0) throw po::error("--drain-timeout-s must not be negative");
  const int port = vm["port"].as<int>();
  if (port < 0 || port > 65535) throw po::error("--port must be 0 to 65535");

  ServeState state;
  state.device = vm["device"].as<std::string>();
  state.precision = vm["precision"].as<std::string>();
  state.store_dir = StoreDir(vm["store"].as<std::string>());
  const std::string host = vm["host"].as<std::string>();
  if (vm.count("token-file")) {
    const std::string path = vm["token-file"].as<std::string>();
    std::ifstream in(path);
    if (!in) throw store::StoreError("--token-file " + path + ": cannot read");
    std::stringstream text;
    text << in.rdbuf();
    state.token = Trimmed(text.str());
    if (state.token.empty()) throw store::StoreError("--token-file " + path + " is empty");
  } else if (!http::IsLoopback(host) && !vm["no-auth"].as<bool>()) {
    throw po::error("--host " + host +
                    " lets other machines reach the models: pass --token-file FILE for bearer-token auth (or "
                    "--no-auth to serve without it)");
  }

  serve::BatchOptions batching;
  batching.max_batch = vm["max-batch"].as<int64_t>();
  batching.max_delay = std::chrono::microseconds(static_cast<int64_t>(vm["max-delay-ms"].as<double>() * 1000));
  batching.threads = vm["threads"].as<int>();

  for (const std::string& reference : vm["model"].as<std::vector<std::string>>()) {
    std::string label;
    std::optional<store::ModelRecord> record;
    const fs::path bundle = fs::absolute(ResolveBundle(reference, state.store_dir, label, &record));
    // A registered model is served under its name; a bundle folder under the folder's
    // name (a registry folder, NAME/vN, under NAME).
    std::string name = record ? record->name : bundle.filename().string();
    if (!record && name.size() > 1 && name[0] == 'v' && name.find_first_not_of("0123456789", 1) == std::string::npos) {
      name = bundle.parent_path().filename().string();
    }
    if (state.models.count(name)) {
      throw po::error("two models would be served as '" + name + "'; serve each name once");
    }
    std::string error;
    const json manifest = ReadManifest(bundle, label);
    std::optional<pipeline::ResolvedPipeline> pipeline =
        ServingPipeline(state.registry, manifest, bundle, label, state.device, state.precision, error);
    if (!pipeline) {
      std::cerr << error << "\n";
      return kExitFailed;
    }
    std::shared_ptr<serve::LoadedModel> loaded =
        serve::LoadedModel::Load(std::move(*pipeline), label, record ? record->version : 0, error);
    if (!loaded) {
      std::cerr << "sluice serve: error: " << label << " cannot be served: " << error << "\n";
      return exec::StopRequested() ? kExitInterrupted : kExitFailed;
    }
    // A reference without a version follows the registry: NAME (the latest) and NAME@ALIAS.
    const bool follows = record && reference.find(':') == std::string::npos;
    const serve::BatchOptions threads = InferenceThreads(batching, manifest, state.device);
    state.models[name].bundle = bundle;
    state.models[name].slot =
        std::make_unique<serve::ModelSlot>(name, reference, follows, std::move(loaded), threads, state.metrics);
    std::cerr << "sluice serve: " << name << ": " << label << (follows ? " (following " + reference + ")" : "") << ", "
              << threads.threads << " inference thread" << (threads.threads == 1 ? "" : "s") << "\n";
  }

  http::ServerOptions server_options;
  server_options.host = host;
  server_options.port = static_cast<uint16_t>(port);
  server_options.max_body_bytes = static_cast<uint64_t>(vm["max-body-mb"].as<double>() * 1024 * 1024);
  server_options.max_in_flight_bytes = static_cast<uint64_t>(vm["max-in-flight-mb"].as<double>() * 1024 * 1024);
  server_options.max_connections = vm["max-connections"].as<int>();
  server_options.request_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(vm["request-timeout-s"].as<double>() * 1000));
  server_options.io_threads = vm["io-threads"].as<int>();
  http::Server server(server_options, [&state](http::Request&& request, http::Respond respond) {
    Handle(state, std::move(request), respond);
  });
  state.server = &server;
  if (Status s = server.Listen(); !s.ok()) {
    std::cerr << "sluice serve: error: " << s.message() << "\n";
    return kExitFailed;
  }
  std::mutex mutex;
  std::condition_variable wake;
  exec::OnFirstStop("\nsluice serve: stopping: finishing the requests in flight (press Ctrl-C again to exit now)\n",
                    [&] {
                      std::lock_guard<std::mutex> lock(mutex);
                      state.stopping = true;
                      wake.notify_all();
                    });
  server.Start();
  const std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::cerr << "sluice serve: listening on http://" << shown_host << ":" << server.port() << " (pid " << getpid() << ")"
            << std::endl;
  std::thread follower(FollowAliases, std::ref(state), std::chrono::milliseconds(vm["poll-ms"].as<int>()),
                       std::ref(mutex), std::ref(wake));
  {
    std::unique_lock<std::mutex> lock(mutex);
    wake.wait(lock, [&state] { return state.stopping.load() || exec::StopRequested(); });
    state.stopping = true;
    wake.notify_all();
  }
  follower.join();
  const auto grace = std::chrono::milliseconds(static_cast<int64_t>(vm["drain-timeout-s"].as<double>() * 1000));
  const int64_t unanswered = server.Shutdown(grace);
  for (auto& [name, served] : state.models) served.slot->Stop();
  state.models.clear();
  if (unanswered > 0) {
    std::cerr << "sluice serve: stopped with " << unanswered << " requests unanswered after --drain-timeout-s\n";
    return kExitInterrupted;
  }
  std::cerr << "sluice serve: stopped\n";
  return kExitOk;
}

}  // namespace sluice::cli
