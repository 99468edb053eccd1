#pragma once
// Open event streams (GET /api/v1/events) after their request is answered. One thread
// serves every stream: it reads new events from the database once per tick for all of
// them (holding a connection only for that query), writes each stream what its account
// may see, sends keep-alives, re-checks each stream's token, and closes streams whose
// client went away, whose token stopped being valid, or that read too slowly. An open
// stream costs a socket and a buffer, no worker thread and no database connection.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "services/event_feed.hpp"
#include "services/platform.hpp"

namespace flexmarket::api {

class EventHub {
 public:
  struct Settings {
    int max_streams = 4096;
    int max_per_user = 8;
    std::chrono::milliseconds tick{250};
    std::chrono::seconds keep_alive{15};
    std::chrono::seconds token_check{15};
    std::size_t max_buffered = 1 << 20;  // bytes a slow reader may fall behind by
  };

  EventHub(services::Platform& p, Settings s);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Reserves a stream for the user; false when the user or the server is at its limit.
  // Every reservation ends in add() or release().
  bool reserve(std::int64_t user_id);
  void release(std::int64_t user_id);
  // Takes over a socket whose response headers have been sent. `account_id` is whose
  // private events it may see; `after` the last event id the client has.
  void add(socket_t sock, std::int64_t user_id, std::int64_t account_id, std::string token,
           std::int64_t after);

  int open_streams() const { return open_.load(); }
  // The last event id the hub has handed out: below it, a missing id stays missing
  // (services::EventFeed); -1 before its first read.
  std::int64_t settled() const { return settled_.load(); }
  // Closes every stream and stops the thread.
  void stop();

 private:
  struct Stream {
    socket_t sock;
    std::int64_t user_id, account_id;
    std::string token;
    std::int64_t after;
    bool live = false;  // caught up with the hub's cursor
    std::string out;    // bytes not yet written
    std::chrono::steady_clock::time_point last_write, last_token_check;
  };
  void run();
  void fetch(std::vector<std::unique_ptr<Stream>>& streams);
  void check_tokens(std::vector<std::unique_ptr<Stream>>& streams);
  bool flush(Stream& s);
  void close(Stream& s);

  services::Platform& p_;
  Settings settings_;
  std::atomic<int> open_{0};
  std::mutex mu_;
  std::map<std::int64_t, int> per_user_;
  int reserved_ = 0;
  std::vector<std::unique_ptr<Stream>> incoming_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  services::EventFeed feed_;
  std::atomic<std::int64_t> settled_{-1};
  std::thread thread_;
};

}  // namespace flexmarket::api
