#include "http/server.hpp"

#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

namespace sluice::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

Response MakeResponse(StatusCode status, std::string body, const char* content_type) {
  Response res{status, 11};
  res.set(bhttp::field::server, "sluice");
  res.set(bhttp::field::content_type, content_type);
  res.body() = std::move(body);
  return res;
}

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host.rfind("127.", 0) == 0 || host == "localhost";
}

namespace {

// A size in bytes, KB or MB, as a message says it.
std::string Size(uint64_t bytes) {
  char text[32];
  if (bytes < 10000) {
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  } else if (bytes < (1 << 20)) {
    std::snprintf(text, sizeof text, "%.1f KB", static_cast<double>(bytes) / (1 << 10));
  } else {
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / (1 << 20));
  }
  return text;
}

}  // namespace

Response ErrorResponse(StatusCode status, const std::string& message) {
  return MakeResponse(
      status, nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

class Session;

// Members are destroyed in reverse order: the io_context (and with it every session its
// pending handlers hold) goes before the counters and the registry sessions update.
struct Server::State {
  ServerOptions options;
  Handler handler;
  std::atomic<int64_t> connections{0}, in_flight{0};
  std::atomic<uint64_t> in_flight_bytes{0};  // the bodies of the requests in_flight
  std::atomic<bool> draining{false};
  std::mutex mutex;
  std::condition_variable answered;  // in_flight went down
  std::map<Session*, std::weak_ptr<Session>> sessions;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  void Accept();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server::State* state) : stream_(std::move(socket)), state_(state) {}
  ~Session() {
    state_->connections.fetch_sub(1);
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->sessions.erase(this);
  }

  void Start(bool reject) {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->sessions[this] = weak_from_this();
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), reject] {
      if (reject) {
        self->keep_alive_ = false;
        self->Write(ErrorResponse(StatusCode::service_unavailable,
                                  "too many connections (" + std::to_string(self->state_->options.max_connections) +
                                      ", --max-connections); try again"),
                    false);
      } else {
        self->Read();
      }
    });
  }

  // On the session's strand: closes the connection unless a request is being answered.
  void CloseIfIdle() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->Close();
    });
  }

 private:
  void Read() {
    if (state_->draining) return Close();
    parser_.emplace();
    parser_->body_limit(state_->options.max_body_bytes);
    parser_->header_limit(state_->options.max_header_bytes);
    stream_.expires_after(state_->options.request_timeout);
    bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      // The client went away, fell silent (a keep-alive connection idle, or a request
      // never finished), or the server is closing it: nothing to answer.
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
          ec == net::error::eof || ec == net::error::connection_reset || ec == bhttp::error::partial_message) {
        return Close();
      }
      keep_alive_ = false;
      busy_ = true;
      if (ec == bhttp::error::body_limit) {
        return Write(ErrorResponse(StatusCode::payload_too_large, "the body is over the limit of " +
                                                                      std::to_string(state_->options.max_body_bytes) +
                                                                      " bytes (--max-body-mb)"),
                     false);
      }
      if (ec == bhttp::error::header_limit) {
        return Write(ErrorResponse(StatusCode::request_header_fields_too_large,
                                   "the headers are over the limit of " +
                                       std::to_string(state_->options.max_header_bytes) + " bytes"),
                     false);
      }
      return Write(ErrorResponse(StatusCode::bad_request, "malformed HTTP request: " + ec.message()), false);
    }
    Request request = parser_->release();
    version_ = request.version();
    keep_alive_ = request.keep_alive();
    head_ = request.method() == bhttp::verb::head;
    busy_ = true;
    body_bytes_ = request.body().size();
    const uint64_t before = state_->in_flight_bytes.fetch_add(body_bytes_);
    if (body_bytes_ > 0 && before > 0 && before + body_bytes_ > state_->options.max_in_flight_bytes) {
      state_->in_flight_bytes.fetch_sub(body_bytes_);
      body_bytes_ = 0;
      keep_alive_ = false;
      Response busy = ErrorResponse(StatusCode::service_unavailable,
                                    "the server is answering " + Size(before) + " of requests; this one's " +
                                        Size(request.body().size()) + " more would pass --max-in-flight-mb (" +
                                        Size(state_->options.max_in_flight_bytes) + "); try again");
      busy.set(bhttp::field::retry_after, "1");
      return Write(std::move(busy), false);
    }
    state_->in_flight.fetch_add(1);
    stream_.expires_never();  // the handler may take its time (a batch of inference)
    auto self = shared_from_this();
    Respond respond = [self](Response response) {
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable { self->Write(std::move(response), true); });
    };
    try {
      state_->handler(std::move(request), respond);
    } catch (const std::exception& e) {
      respond(ErrorResponse(StatusCode::internal_server_error, std::string("internal error: ") + e.what()));
    }
  }

  void Write(Response response, bool counted) {
    const bool keep = keep_alive_ && !state_->draining;
    response.version(version_);
    response.keep_alive(keep);
    response.prepare_payload();
    if (head_) {  // the headers a GET would get, its Content-Length included, and no body
      const size_t length = response.body().size();
      response.body().clear();
      response.content_length(length);
    }
    response_ = std::make_shared<Response>(std::move(response));
    stream_.expires_after(state_->options.request_timeout);
    bhttp::async_write(stream_, *response_, [self = shared_from_this(), counted, keep](beast::error_code ec, size_t) {
      self->response_.reset();
      self->busy_ = false;
      if (counted) {
        std::lock_guard<std::mutex> lock(self->state_->mutex);
        self->state_->in_flight_bytes.fetch_sub(self->body_bytes_);
        self->body_bytes_ = 0;
        self->state_->in_flight.fetch_sub(1);
        self->state_->answered.notify_all();
      }
      if (ec || !keep) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  Server::State* state_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Response> response_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  bool busy_ = false;        // a request read and not yet answered
  uint64_t body_bytes_ = 0;  // its body's share of in_flight_bytes
};

void Server::State::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      const bool reject = connections.fetch_add(1) >= options.max_connections || draining;
      std::make_shared<Session>(std::move(socket), this)->Start(reject);
    }
    Accept();
  });
}

Server::Server(ServerOptions options, Handler handler) : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
  state_->handler = std::move(handler);
}

Server::~Server() { Shutdown(std::chrono::milliseconds(0)); }

Status Server::Listen() {
  const std::string where = state_->options.host + ":" + std::to_string(state_->options.port);
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(state_->options.host, ec);
  if (ec) return Status::InvalidArgument("--host '" + state_->options.host + "' is not an IP address");
  const tcp::endpoint endpoint(address, state_->options.port);
  tcp::acceptor& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::IoError("cannot listen on " + where + ": " + ec.message());
  return Status::Ok();
}

uint16_t Server::port() const {
  beast::error_code ec;
  const tcp::endpoint endpoint = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void Server::Start() {
  state_->work.emplace(state_->ioc.get_executor());
  state_->Accept();
  for (int i = 0; i < std::max(1, state_->options.io_threads); ++i) {
    state_->threads.emplace_back([state = state_.get()] { state->ioc.run(); });
  }
}

int64_t Server::Shutdown(std::chrono::milliseconds grace) {
  State& s = *state_;
  if (s.threads.empty()) return 0;
  s.draining = true;
  net::post(s.ioc, [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (auto& [raw, weak] : s.sessions) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  }
  for (auto& session : sessions) session->CloseIfIdle();
  sessions.clear();
  int64_t left = 0;
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.answered.wait_for(lock, grace, [&s] { return s.in_flight.load() == 0; });
    left = s.in_flight.load();
  }
  s.work.reset();
  s.ioc.stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
  return left;
}

int64_t Server::connections() const { return state_->connections.load(); }
int64_t Server::in_flight() const { return state_->in_flight.load(); }

}  // namespace sluice::http
