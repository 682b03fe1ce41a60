// The HTTP layer of `sluice serve` (and of `sluice ui`): Boost.Beast over Boost.Asio, a
// few I/O threads multiplexing every connection. The handler may answer from any thread
// (inference runs on threads of its own); the layer enforces the limits (body and header
// size, connections, time to read a request or write an answer), answers what it refuses
// with a JSON error, and drains on shutdown: no new connections, requests in flight
// answered, idle connections closed.
#ifndef SLUICE_HOST_HTTP_SERVER_HPP_
#define SLUICE_HOST_HTTP_SERVER_HPP_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "sluice/status.hpp"

namespace sluice::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using StatusCode = boost::beast::http::status;

// Answers one request: call exactly once, from any thread.
using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request&& request, Respond respond)>;

// A response with a body of `content_type` (the layer sets version, keep-alive, length).
Response MakeResponse(StatusCode status, std::string body, const char* content_type = "application/json");
// {"error": message}, with `status`.
Response ErrorResponse(StatusCode status, const std::string& message);
// Whether binding `host` keeps the server to this machine (127.0.0.0/8, ::1, localhost).
bool IsLoopback(const std::string& host);

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see Server::port())
  uint64_t max_body_bytes = 16 << 20;
  // The bodies of the requests being answered, together, at most (a JSON body takes tens
  // of times its size once parsed: 256 clients sending 16 MB each would exhaust the
  // memory). A request past it is answered 503; one alone, and one without a body (a
  // health check, /metrics), is always taken.
  uint64_t max_in_flight_bytes = 64 << 20;
  uint32_t max_header_bytes = 16 << 10;
  int max_connections = 256;
  // To read a whole request once its first byte came, or to write an answer; an idle
  // keep-alive connection is closed after it too.
  std::chrono::milliseconds request_timeout{30'000};
  int io_threads = 1;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; the error says which address could not be used and why.
  Status Listen();
  uint16_t port() const;
  void Start();
  // Stops accepting, lets the requests being handled finish (for at most `grace`), closes
  // every connection and joins the I/O threads. Returns the requests still unanswered.
  int64_t Shutdown(std::chrono::milliseconds grace);

  int64_t connections() const;
  int64_t in_flight() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sluice::http

#endif  // SLUICE_HOST_HTTP_SERVER_HPP_
