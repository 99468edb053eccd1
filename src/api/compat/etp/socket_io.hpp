#pragma once
// The trading platform's Socket.IO push (ETP §3.16): Engine.IO 4 / Socket.IO 5 over
// WebSocket (RFC 6455) or long-polling (the transport the libraries start with by
// default) on the ETP surface's /socket.io/ path. One thread serves every connection, as
// api/event_hub does for SSE: it speaks the handshake, answers pings,
// checks each connection's token again every token_check, and, when a slot is settled,
// emits the `transaction` event to each connection whose account it concerns.
// Protocol only: what a `transaction` says comes from `payload_for` (api/compat/etp).
#include <atomic>
#include <condition_variable>
#include <map>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "services/event_feed.hpp"
#include "services/platform.hpp"
#include "services/principal.hpp"

namespace flexmarket::api::compat::etp {

class SocketIoHub {
 public:
  struct Settings {
    int max_connections = 4096;
    int max_per_user = 8;
    int max_refused = 256;
    std::chrono::seconds connect_within{10};  // from the handshake to Socket.IO's CONNECT
    std::size_t max_queued = 256;             // packets a polling client may fall behind by
    std::chrono::milliseconds tick{250};
    std::chrono::milliseconds ping_interval{25000};
    std::chrono::milliseconds ping_timeout{20000};
    std::chrono::seconds token_check{15};
    std::size_t max_message = 1 << 20;
  };
  // The caller a connection's token names, or nullopt (the connection is then refused
  // with a Socket.IO CONNECT_ERROR, as the seed refused it).
  using Authenticate = std::function<std::optional<services::Principal>(const std::string& token)>;
  // The `transaction` payload (a JSON text) that `who` gets for event `e`, or nullopt.
  using PayloadFor = std::function<std::optional<std::string>(const services::Principal& who,
                                                              const store::EventRecord& e)>;

  SocketIoHub(services::Platform& p, Authenticate authenticate, PayloadFor payload_for, Settings s);
  ~SocketIoHub();
  SocketIoHub(const SocketIoHub&) = delete;
  SocketIoHub& operator=(const SocketIoHub&) = delete;

  // The value of Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
  static std::string accept_key(const std::string& client_key);

  // A place for a connection of `user_id` (the user its token named at the handshake), at
  // most max_per_user each; 0 for a token that named nobody: such connections only learn
  // that they are refused, and at most max_refused wait for it at once. Every
  // reservation ends in add(), poll_open() or release().
  bool reserve(std::int64_t user_id);
  void release(std::int64_t user_id);
  // Takes over a socket whose 101 answer has been sent; `token` as given in the query.
  void add(socket_t sock, std::string token, std::int64_t user_id);
  // Sends each connection again the last transaction payload it was sent (POST
  // /socket_settlement: emits, changes nothing).
  void replay();

  // Engine.IO's long-polling transport. poll_open: the OPEN packet of a new session
  // (nullopt when the hub is full); poll_post: the client's packets ('\x1e'-separated);
  // poll_get: waits up to ping_interval for packets to send. False or nullopt: no such
  // session (never opened, closed, or timed out).
  std::optional<std::string> poll_open(std::string token, std::int64_t user_id);
  bool poll_post(const std::string& sid, const std::string& body);
  std::optional<std::string> poll_get(const std::string& sid);

  int open_connections() const { return open_.load(); }
  void stop();

 private:
  struct Conn;
  void run();
  void on_text(Conn& c, const std::string& packet);
  void fetch(std::vector<std::unique_ptr<Conn>>& conns);
  void send_text(Conn& c, const std::string& text);
  void ensure_thread();
  // Pings, token checks and timeouts of the polling sessions (poll_mu_ held).
  void tend_polls(std::chrono::steady_clock::time_point now);
  bool flush(Conn& c);
  void close(Conn& c);

  services::Platform& p_;
  Authenticate authenticate_;
  PayloadFor payload_for_;
  Settings settings_;
  std::atomic<int> open_{0};
  std::atomic<bool> replay_{false};
  std::mutex mu_;
  int reserved_ = 0, refused_ = 0;
  std::map<std::int64_t, int> per_user_;
  std::vector<std::unique_ptr<Conn>> incoming_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  services::EventFeed feed_;  // settlements, none skipped
  std::thread thread_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  std::map<std::string, std::unique_ptr<Conn>> polls_;
};

}  // namespace flexmarket::api::compat::etp
