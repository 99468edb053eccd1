#include "api/event_hub.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/error.hpp"
#include "core/log.hpp"

namespace flexmarket::api {

namespace {

using steady = std::chrono::steady_clock;

std::string sse_message(const store::EventRecord& e) {
  std::string msg =
      "id: " + std::to_string(e.id) + "\nevent: " + e.type + "\ndata: " + e.payload + "\n\n";
  return msg;
}

bool visible(const store::EventRecord& e, std::int64_t account_id) {
  return !e.account_id || *e.account_id == account_id;
}

}  // namespace

EventHub::EventHub(services::Platform& p, Settings s) : p_(p), settings_(s) {
  if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0)
    throw std::runtime_error("event hub: cannot create its wake-up pipe");
}

EventHub::~EventHub() {
  stop();
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void EventHub::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  const char c = 's';
  [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  if (thread_.joinable()) thread_.join();
  // Streams handed over after the thread ended (or with none started) are closed here.
  std::lock_guard lock(mu_);
  for (auto& s : incoming_) {
    ::close(s->sock);
    open_--;
  }
  incoming_.clear();
}

bool EventHub::reserve(std::int64_t user_id) {
  std::lock_guard lock(mu_);
  if (stopping_ || reserved_ >= settings_.max_streams) return false;
  int& n = per_user_[user_id];
  if (n >= settings_.max_per_user) return false;
  ++n;
  ++reserved_;
  return true;
}

void EventHub::release(std::int64_t user_id) {
  std::lock_guard lock(mu_);
  auto it = per_user_.find(user_id);
  if (it != per_user_.end() && --it->second <= 0) per_user_.erase(it);
  --reserved_;
}

void EventHub::add(socket_t sock, std::int64_t user_id, std::int64_t account_id, std::string token,
                   std::int64_t after) {
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
  auto s = std::make_unique<Stream>(Stream{
      sock, user_id, account_id, std::move(token), after, false, {}, steady::now(), steady::now()});
  {
    std::lock_guard lock(mu_);
    incoming_.push_back(std::move(s));
    // The thread starts with the first stream: a server nobody streams from has none.
    if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
  }
  open_++;
  const char c = 'a';
  [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
}

void EventHub::close(Stream& s) {
  ::shutdown(s.sock, SHUT_RDWR);
  ::close(s.sock);
  s.sock = -1;
  open_--;
  release(s.user_id);
}

bool EventHub::flush(Stream& s) {
  while (!s.out.empty()) {
    const ssize_t n = ::send(s.sock, s.out.data(), s.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      s.out.erase(0, static_cast<std::size_t>(n));
      s.last_write = steady::now();
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return s.out.size() <= settings_.max_buffered;
}

void EventHub::fetch(std::vector<std::unique_ptr<Stream>>& streams) {
  auto& market = *p_.market;
  // New events first, so that a stream catching up stops where they begin.
  const auto fresh = feed_.next(market, 1000);
  settled_ = feed_.cursor();
  const std::int64_t before = fresh.empty() ? feed_.cursor() : fresh.front().id - 1;
  // Streams behind the hub's cursor catch up one page per tick, up to that cursor.
  for (auto& s : streams) {
    if (s->live) continue;
    if (s->after >= before) {
      s->live = true;
      continue;
    }
    constexpr std::int64_t kPage = 500;
    auto page = market.events_since(s->after, s->account_id, kPage);
    for (const auto& e : page) {
      if (e.id > before) break;
      s->out += sse_message(e);
      s->after = e.id;
    }
    if (static_cast<std::int64_t>(page.size()) < kPage || s->after >= before) {
      s->after = std::max(s->after, before);
      s->live = true;
    }
  }
  // New events once for everyone, then to each live stream that may see them.
  for (const auto& e : fresh) {
    for (auto& s : streams) {
      if (!s->live || e.id <= s->after) continue;
      if (visible(e, s->account_id)) s->out += sse_message(e);
      s->after = e.id;
    }
  }
}

void EventHub::check_tokens(std::vector<std::unique_ptr<Stream>>& streams) {
  const auto now = steady::now();
  for (auto& s : streams) {
    if (now - s->last_token_check < settings_.token_check) continue;
    s->last_token_check = now;
    try {
      p_.auth->authenticate(s->token);
    } catch (const Error& e) {
      // The client learns why and must log in again; the stream ends here.
      s->out += "event: error\ndata: {\"code\":\"" + e.code() + "\"}\n\n";
      flush(*s);
      close(*s);
    } catch (const std::exception&) {
      // The database is unavailable: keep the stream, check again next time.
    }
  }
}

void EventHub::run() {
  std::vector<std::unique_ptr<Stream>> streams;
  auto last_fetch = steady::now() - settings_.tick;
  while (!stopping_) {
    std::vector<pollfd> fds;
    fds.reserve(streams.size() + 1);
    fds.push_back({wake_[0], POLLIN, 0});
    for (auto& s : streams) {
      fds.push_back({s->sock, static_cast<short>(POLLIN | (s->out.empty() ? 0 : POLLOUT)), 0});
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        last_fetch + settings_.tick - steady::now());
    ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(0, wait.count())));
    if (fds[0].revents & POLLIN) {
      char buf[64];
      while (::read(wake_[0], buf, sizeof buf) > 0) {
      }
    }
    {
      std::lock_guard lock(mu_);
      for (auto& s : incoming_) streams.push_back(std::move(s));
      incoming_.clear();
    }
    if (stopping_) break;
    // A client that sends anything or hangs up is done with its stream.
    for (std::size_t i = 1; i < fds.size(); ++i) {
      Stream& s = *streams[i - 1];
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
        char buf[256];
        const ssize_t n = ::recv(s.sock, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
            (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL))) {
          close(s);
        }
      }
    }
    std::erase_if(streams, [](const auto& s) { return s->sock < 0; });
    if (steady::now() - last_fetch >= settings_.tick) {
      last_fetch = steady::now();
      try {
        fetch(streams);
      } catch (const std::exception& e) {
        log_warn("event streams: cannot read new events", {{"error", e.what()}});
      }
      check_tokens(streams);
      std::erase_if(streams, [](const auto& s) { return s->sock < 0; });
      const auto now = steady::now();
      for (auto& s : streams) {
        if (s->out.empty() && now - s->last_write >= settings_.keep_alive)
          s->out += ": keep-alive\n\n";
      }
    }
    for (auto& s : streams) {
      if (!s->out.empty() && !flush(*s)) close(*s);
    }
    std::erase_if(streams, [](const auto& s) { return s->sock < 0; });
  }
  for (auto& s : streams) close(*s);
}

}  // namespace flexmarket::api
