// A synchronous HTTP/1.1 client for the tests of `sluice serve` and `sluice ui`: one
// keep-alive connection over Boost.Beast.
#ifndef SLUICE_TESTS_SUPPORT_HTTP_CLIENT_HPP_
#define SLUICE_TESTS_SUPPORT_HTTP_CLIENT_HPP_

#include <map>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "process.hpp"

namespace sluice::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

struct Reply {
  int status = 0;  // 0: no answer (see error)
  std::string body;
  std::string version;  // X-Sluice-Model-Version
  std::string error;
  std::map<std::string, std::string> headers;  // by name as sent
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// One keep-alive connection to the server.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    beast::error_code ec;
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec) error_ = ec.message();
  }

  Reply Call(bhttp::verb method, const std::string& target, const std::string& body = "",
             const std::string& content_type = "application/json", const std::string& token = "") {
    Reply reply;
    if (!error_.empty()) {
      reply.error = error_;
      return reply;
    }
    bhttp::request<bhttp::string_body> request{method, target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    if (!body.empty() || method == bhttp::verb::post) request.set(bhttp::field::content_type, content_type);
    if (!token.empty()) request.set(bhttp::field::authorization, "Bearer " + token);
    request.body() = body;
    request.prepare_payload();
    beast::error_code ec;
    bhttp::write(socket_, request, ec);
    bhttp::response<bhttp::string_body> response;
    if (!ec) bhttp::read(socket_, buffer_, response, ec);
    if (ec) {
      reply.error = ec.message();
      return reply;
    }
    reply.status = static_cast<int>(response.result_int());
    reply.body = response.body();
    reply.version = std::string(response["X-Sluice-Model-Version"]);
    for (const auto& field : response) reply.headers[std::string(field.name_string())] = std::string(field.value());
    return reply;
  }
  Reply Post(const std::string& target, const std::string& body, const std::string& content_type = "application/json") {
    return Call(bhttp::verb::post, target, body, content_type);
  }
  Reply Get(const std::string& target) { return Call(bhttp::verb::get, target); }

  tcp::socket& socket() { return socket_; }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::string error_;
};

// The port a server started as `child` (`sluice serve` or `sluice ui` with `--port 0`)
// says it listens on, in the stderr line holding "http://127.0.0.1:PORT"; 0 when it stopped
// before saying so.
inline uint16_t ListeningPort(Child& child) {
  const std::string marker = "http://127.0.0.1:";
  uint16_t port = 0;
  child.WaitForLine([&](const std::string& line) {
    const auto at = line.find(marker);
    if (at == std::string::npos) return false;
    port = static_cast<uint16_t>(std::stoi(line.substr(at + marker.size())));
    return true;
  });
  return port;
}

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_HTTP_CLIENT_HPP_
