#pragma once
// How the HTTP server holds its connections. cpp-httplib gives each connection a worker
// thread and applies its read timeout per read, so a client trickling one byte every few
// seconds holds a thread forever, and a few hundred such clients stop the server. Here
// each connection runs under:
// - a whole-request deadline: a request's headers and body must arrive within
//   server.request_timeout, however the bytes trickle;
// - a bound on the connections one client address holds at once
//   (server.max_connections_per_address); more are answered 503 and closed at once;
// - adoption: a handler may take the socket over after answering (event streams), so
//   that an open stream holds no worker thread.
// cpp-httplib still parses requests and routes them (Server::process_request).
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include <httplib.h>

namespace flexmarket::api {

class ConnectionStream;

class GuardedServer : public httplib::Server {
 public:
  GuardedServer(std::chrono::seconds request_timeout, int max_per_address)
      : request_timeout_(request_timeout), max_per_address_(max_per_address) {}

  // Connections open per client address right now (for tests and metrics).
  int connections_from(const std::string& address);

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool take_slot(const std::string& address);
  void release_slot(const std::string& address);

  std::chrono::seconds request_timeout_;
  int max_per_address_;
  std::mutex mu_;
  std::map<std::string, int> per_address_;
};

// The connection the calling worker thread is serving, or null outside a request.
ConnectionStream* current_connection();

class ConnectionStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;
  ConnectionStream(socket_t sock, std::string remote_ip, int remote_port, time_t read_timeout_sec,
                   time_t write_timeout_sec);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return sock_; }

  void start_request(Clock::time_point deadline) {
    deadline_ = deadline;
    answered_ = false;
  }
  // Where a caller serialises the whole answer to this request (appended to what waits to
  // be sent); after mark_answered(), what cpp-httplib writes for this request is discarded.
  std::string& answer_buffer() { return out_; }
  void mark_answered() { answered_ = true; }
  // Ends the connection once this request is answered (a request whose framing was
  // ambiguous: what follows it on the connection cannot be trusted to be a request).
  void close_after() { close_after_ = true; }
  bool closing() const { return close_after_; }
  bool has_buffered_input() const { return buf_off_ < buf_len_; }

  // Writes bytes straight to the client (blocking up to the write timeout), for a
  // handler that answers in its own format before adopting the socket.
  bool write_all(std::string_view bytes);
  // Sends what write() has buffered; false when the client is gone.
  bool flush();
  // Hands the socket to `owner` once the request is done; what cpp-httplib writes for
  // this request afterwards is discarded. The owner closes the socket.
  void adopt(std::function<void(socket_t)> owner) { owner_ = std::move(owner); }
  bool adopted() const { return static_cast<bool>(owner_); }
  void hand_over() { owner_(sock_); }

 private:
  bool close_after_ = false;
  // Waits for `events` up to the read/write timeout (and, for reads, the deadline).
  bool wait(short events, time_t timeout_sec, bool bounded_by_deadline) const;
  bool send_all(std::string_view bytes);

  static constexpr size_t kOutLimit = 64 * 1024;

  socket_t sock_;
  std::string remote_ip_;
  int remote_port_;
  time_t read_timeout_sec_, write_timeout_sec_;
  Clock::time_point deadline_ = Clock::time_point::max();
  char buf_[4096];
  size_t buf_off_ = 0, buf_len_ = 0;
  std::string out_;
  bool answered_ = false;
  std::function<void(socket_t)> owner_;
};

}  // namespace flexmarket::api
