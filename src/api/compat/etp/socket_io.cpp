#include "api/compat/etp/socket_io.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <nlohmann/json.hpp>

#include "core/log.hpp"

namespace flexmarket::api::compat::etp {

namespace {

using steady = std::chrono::steady_clock;
using json = nlohmann::json;

std::string random_sid() {
  unsigned char b[15];
  randombytes_buf(b, sizeof b);
  std::string out(sodium_base64_encoded_len(sizeof b, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), b, sizeof b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);
  return out;
}

// A server's frame: never masked (RFC 6455 §5.1).
std::string frame(std::uint8_t opcode, std::string_view payload) {
  std::string f;
  f.reserve(payload.size() + 10);
  f += static_cast<char>(0x80 | opcode);
  if (payload.size() < 126) {
    f += static_cast<char>(payload.size());
  } else if (payload.size() <= 0xFFFF) {
    f += static_cast<char>(126);
    f += static_cast<char>((payload.size() >> 8) & 0xFF);
    f += static_cast<char>(payload.size() & 0xFF);
  } else {
    f += static_cast<char>(127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xFF);
  }
  f.append(payload);
  return f;
}

}  // namespace

struct SocketIoHub::Conn {
  std::int64_t user_id = 0;  // whose reservation it holds; 0: refused at the handshake
  steady::time_point created;
  bool polling = false;
  std::vector<std::string> queue;  // polling: packets the next GET takes
  steady::time_point last_seen;    // polling: the client's last request
  socket_t sock = -1;
  std::string token;
  std::optional<services::Principal> who;  // once its Socket.IO CONNECT was accepted
  std::string in, out, fragment;
  bool in_fragment = false;  // a text message's first frame came without FIN
  bool closing = false;  // close once `out` is written
  bool awaiting_pong = false;
  steady::time_point last_ping, last_token_check;
  std::string last_payload, last_slot;
};

SocketIoHub::SocketIoHub(services::Platform& p, Authenticate authenticate, PayloadFor payload_for, Settings s)
    : p_(p), authenticate_(std::move(authenticate)), payload_for_(std::move(payload_for)), settings_(s) {
  if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("socket.io: cannot create its wake-up pipe");
}

SocketIoHub::~SocketIoHub() {
  stop();
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::string SocketIoHub::accept_key(const std::string& client_key) {
  const std::string input = client_key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
  std::string out(sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), digest, len, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return out;
}

void SocketIoHub::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  const char w = 's';
  [[maybe_unused]] auto n = ::write(wake_[1], &w, 1);
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard poll_lock(poll_mu_);
    for (auto& [sid, c] : polls_) release(c->user_id);
    open_ -= static_cast<int>(polls_.size());
    polls_.clear();
    poll_cv_.notify_all();
  }
  std::lock_guard lock(mu_);
  for (auto& c : incoming_) {
    ::close(c->sock);
    open_--;
  }
  incoming_.clear();
}

bool SocketIoHub::reserve(std::int64_t user_id) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  if (user_id == 0) {
    if (refused_ >= settings_.max_refused) return false;
    ++refused_;
    return true;
  }
  if (reserved_ >= settings_.max_connections) return false;
  int& n = per_user_[user_id];
  if (n >= settings_.max_per_user) return false;
  ++n;
  ++reserved_;
  return true;
}

void SocketIoHub::release(std::int64_t user_id) {
  std::lock_guard lock(mu_);
  if (user_id == 0) {
    --refused_;
    return;
  }
  auto it = per_user_.find(user_id);
  if (it != per_user_.end() && --it->second <= 0) per_user_.erase(it);
  --reserved_;
}

void SocketIoHub::add(socket_t sock, std::string token, std::int64_t user_id) {
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
  auto c = std::make_unique<Conn>();
  c->user_id = user_id;
  c->created = steady::now();
  c->sock = sock;
  c->token = std::move(token);
  c->last_ping = c->last_token_check = steady::now();
  // Engine.IO's OPEN: WebSocket only, no upgrades to offer.
  const json open = {{"sid", random_sid()},
                     {"upgrades", json::array()},
                     {"pingInterval", settings_.ping_interval.count()},
                     {"pingTimeout", settings_.ping_timeout.count()},
                     {"maxPayload", settings_.max_message}};
  c->out = frame(0x1, "0" + open.dump());
  {
    std::lock_guard lock(mu_);
    incoming_.push_back(std::move(c));
    if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
  }
  open_++;
  const char w = 'a';
  [[maybe_unused]] auto n = ::write(wake_[1], &w, 1);
}

void SocketIoHub::replay() {
  replay_ = true;
  const char w = 'r';
  [[maybe_unused]] auto n = ::write(wake_[1], &w, 1);
}

void SocketIoHub::send_text(Conn& c, const std::string& text) {
  if (c.polling) c.queue.push_back(text);
  else c.out += frame(0x1, text);
}

void SocketIoHub::ensure_thread() {
  std::lock_guard lock(mu_);
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
}

std::optional<std::string> SocketIoHub::poll_open(std::string token, std::int64_t user_id) {
  auto c = std::make_unique<Conn>();
  c->user_id = user_id;
  c->created = steady::now();
  c->polling = true;
  c->token = std::move(token);
  c->last_ping = c->last_token_check = c->last_seen = steady::now();
  const std::string sid = random_sid();
  const json open = {{"sid", sid},
                     {"upgrades", json::array()},
                     {"pingInterval", settings_.ping_interval.count()},
                     {"pingTimeout", settings_.ping_timeout.count()},
                     {"maxPayload", settings_.max_message}};
  {
    std::lock_guard lock(poll_mu_);
    polls_.emplace(sid, std::move(c));
  }
  open_++;
  ensure_thread();
  return "0" + open.dump();
}

bool SocketIoHub::poll_post(const std::string& sid, const std::string& body) {
  std::lock_guard lock(poll_mu_);
  auto it = polls_.find(sid);
  if (it == polls_.end()) return false;
  Conn& c = *it->second;
  c.last_seen = steady::now();
  std::size_t start = 0;
  while (start <= body.size()) {
    const std::size_t end = std::min(body.find('\x1e', start), body.size());
    if (end > start) on_text(c, body.substr(start, end - start));
    start = end + 1;
    if (c.queue.size() > settings_.max_queued) {  // a client that only sends: gone
      polls_.erase(it);
      open_--;
      release(c.user_id);
      poll_cv_.notify_all();
      return true;
    }
  }
  poll_cv_.notify_all();
  return true;
}

std::optional<std::string> SocketIoHub::poll_get(const std::string& sid) {
  std::unique_lock lock(poll_mu_);
  auto it = polls_.find(sid);
  if (it == polls_.end()) return std::nullopt;
  it->second->last_seen = steady::now();
  poll_cv_.wait_for(lock, settings_.ping_interval, [&] {
    auto found = polls_.find(sid);
    return stopping_ || found == polls_.end() || !found->second->queue.empty();
  });
  it = polls_.find(sid);
  if (it == polls_.end()) return std::nullopt;
  Conn& c = *it->second;
  c.last_seen = steady::now();
  if (c.queue.empty()) return std::string("6");  // noop: the client polls again
  // At most 16 packets per answer: python-socketio refuses more.
  const std::size_t n = std::min<std::size_t>(c.queue.size(), 16);
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += (i == 0 ? "" : "\x1e") + c.queue[i];
  c.queue.erase(c.queue.begin(), c.queue.begin() + static_cast<std::ptrdiff_t>(n));
  if (c.closing && c.queue.empty()) {
    const auto user = c.user_id;
    polls_.erase(it);
    open_--;
    release(user);
  }
  return out;
}

void SocketIoHub::tend_polls(steady::time_point now) {
  bool queued = false;
  for (auto it = polls_.begin(); it != polls_.end();) {
    Conn& c = *it->second;
    const auto limit = settings_.ping_interval + settings_.ping_timeout;
    if ((c.awaiting_pong && now - c.last_ping >= limit) || now - c.last_seen >= limit + settings_.ping_interval ||
        (!c.who && now - c.created >= settings_.connect_within) || c.queue.size() > settings_.max_queued) {
      const auto user = c.user_id;
      it = polls_.erase(it);  // the client is gone, never connected, or does not read
      open_--;
      release(user);
      continue;
    }
    if (!c.closing && !c.awaiting_pong && now - c.last_ping >= settings_.ping_interval) {
      send_text(c, "2");
      c.awaiting_pong = true;
      c.last_ping = now;
      queued = true;
    }
    if (!c.closing && c.who && now - c.last_token_check >= settings_.token_check) {
      c.last_token_check = now;
      bool valid = true;
      try {
        valid = authenticate_(c.token).has_value();
      } catch (const std::exception&) {
      }
      if (!valid) {
        send_text(c, "41");
        c.closing = true;
        queued = true;
      }
    }
    ++it;
  }
  if (queued) poll_cv_.notify_all();
}

void SocketIoHub::close(Conn& c) {
  ::shutdown(c.sock, SHUT_RDWR);
  ::close(c.sock);
  c.sock = -1;
  open_--;
  release(c.user_id);
}

bool SocketIoHub::flush(Conn& c) {
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.sock, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return c.out.size() <= settings_.max_message * 4;
}

void SocketIoHub::on_text(Conn& c, const std::string& packet) {
  if (packet.empty()) return;
  switch (packet[0]) {
    case '1': c.closing = true; return;                 // Engine.IO CLOSE
    case '2': send_text(c, "3" + packet.substr(1)); return;  // a client's ping (probe)
    case '3': c.awaiting_pong = false; return;          // PONG
    case '4': break;                                    // MESSAGE: a Socket.IO packet
    default: return;                                    // upgrade, noop
  }
  const std::string sio = packet.substr(1);
  if (sio.empty()) return;
  if (sio[0] == '0') {  // CONNECT
    std::string nsp = "/";
    if (sio.size() > 1 && sio[1] == '/') nsp = sio.substr(1, sio.find(',', 1) == std::string::npos ? std::string::npos : sio.find(',', 1) - 1);
    if (nsp != "/") {
      send_text(c, "44" + nsp + "," + json{{"message", "Invalid namespace"}}.dump());
      return;
    }
    std::optional<services::Principal> who;
    try {
      who = authenticate_(c.token);
    } catch (const std::exception&) {
      who.reset();
    }
    if (!who) {
      // Flask-SocketIO's ConnectionRefusedError("Unauthorized access"): CONNECT_ERROR.
      send_text(c, "44" + json{{"message", "Unauthorized access"}}.dump());
      c.closing = true;
      return;
    }
    c.who = std::move(who);
    send_text(c, "40" + json{{"sid", random_sid()}}.dump());
  } else if (sio[0] == '1') {  // DISCONNECT
    c.closing = true;
  }
  // Events from clients: the seed's server defined none.
}

void SocketIoHub::fetch(std::vector<std::unique_ptr<Conn>>& conns) {
  auto& market = *p_.market;
  const auto fresh = feed_.next(market, 1000);
  for (const auto& e : fresh) {
    // Notifications of what happens from now on: not the settlements a restart reads again.
    if (e.type != "settled" || !e.account_id || feed_.stored_at_start(e.id)) continue;
    std::string slot;
    const auto pj = json::parse(e.payload, nullptr, false);
    if (pj.is_object()) slot = std::to_string(e.market_id.value_or(0)) + "/" + pj.value("slot_start", "");
    std::vector<Conn*> all;
    for (auto& c : conns) all.push_back(c.get());
    for (auto& [sid, c] : polls_) all.push_back(c.get());
    for (Conn* c : all) {
      if (!c->who || (!c->polling && c->sock < 0)) continue;
      const bool own = *e.account_id == c->who->account_id;
      // Operators see every settlement of the slot once.
      if (!own && !(c->who->sees_all_accounts() && slot != c->last_slot)) continue;
      std::optional<std::string> payload;
      try {
        payload = payload_for_(*c->who, e);
      } catch (const std::exception& ex) {
        log_warn("socket.io: cannot build a transaction event", {{"error", ex.what()}});
      }
      if (!payload) continue;
      c->last_slot = slot;
      c->last_payload = *payload;
      send_text(*c, "42" + json::array({"transaction", *payload}).dump());
    }
  }
}

void SocketIoHub::run() {
  std::vector<std::unique_ptr<Conn>> conns;
  auto last_fetch = steady::now() - settings_.tick;
  while (!stopping_) {
    std::vector<pollfd> fds;
    fds.reserve(conns.size() + 1);
    fds.push_back({wake_[0], POLLIN, 0});
    for (auto& c : conns) fds.push_back({c->sock, static_cast<short>(POLLIN | (c->out.empty() ? 0 : POLLOUT)), 0});
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(last_fetch + settings_.tick - steady::now());
    ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(0, wait.count())));
    if (fds[0].revents & POLLIN) {
      char buf[64];
      while (::read(wake_[0], buf, sizeof buf) > 0) {
      }
    }
    const std::size_t polled = conns.size();
    {
      std::lock_guard lock(mu_);
      for (auto& c : incoming_) conns.push_back(std::move(c));
      incoming_.clear();
    }
    if (stopping_) break;
    for (std::size_t i = 0; i < polled; ++i) {
      Conn& c = *conns[i];
      const short rev = fds[i + 1].revents;
      if (!(rev & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) continue;
      char buf[16384];
      const ssize_t n = ::recv(c.sock, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close(c);
        continue;
      }
      if (n > 0) c.in.append(buf, static_cast<std::size_t>(n));
      // Whole frames from the client (masked, RFC 6455 §5.2).
      while (c.sock >= 0 && c.in.size() >= 2) {
        const auto* d = reinterpret_cast<const std::uint8_t*>(c.in.data());
        const bool fin = d[0] & 0x80;
        const std::uint8_t op = d[0] & 0x0F;
        // No extensions were agreed: RSV bits set, an unknown or binary opcode (Socket.IO
        // sends text here), a fragmented or long control frame, or a continuation with
        // nothing to continue is a protocol error (RFC 6455 §5.2, §5.4, §5.5).
        const bool control = op >= 0x8;
        if ((d[0] & 0x70) || (op != 0x0 && op != 0x1 && op != 0x8 && op != 0x9 && op != 0xA) ||
            (control && (!fin || (d[1] & 0x7F) > 125)) || (op == 0x0 && c.fragment.empty() && !c.in_fragment) ||
            (op == 0x1 && c.in_fragment)) {
          close(c);
          break;
        }
        std::uint64_t len = d[1] & 0x7F;
        std::size_t pos = 2;
        if (len == 126) {
          if (c.in.size() < 4) break;
          len = (std::uint64_t{d[2]} << 8) | d[3];
          pos = 4;
        } else if (len == 127) {
          if (c.in.size() < 10) break;
          len = 0;
          for (int k = 0; k < 8; ++k) len = (len << 8) | d[2 + k];
          pos = 10;
        }
        if (!(d[1] & 0x80) || len > settings_.max_message || c.fragment.size() + len > settings_.max_message) {
          close(c);  // unmasked or oversized: a protocol error
          break;
        }
        if (c.in.size() < pos + 4 + len) break;
        const std::uint8_t* mask = d + pos;
        std::string payload(c.in, pos + 4, static_cast<std::size_t>(len));
        for (std::size_t k = 0; k < payload.size(); ++k) payload[k] = static_cast<char>(payload[k] ^ mask[k % 4]);
        c.in.erase(0, pos + 4 + static_cast<std::size_t>(len));
        if (op == 0x8) {  // close: answer with a close, then end
          c.out += frame(0x8, payload.substr(0, 2));
          c.closing = true;
        } else if (op == 0x9) {
          c.out += frame(0xA, payload);
        } else if (op == 0x1 || op == 0x0) {
          c.fragment += payload;
          c.in_fragment = !fin;
          if (fin) {
            const std::string text = std::move(c.fragment);
            c.fragment.clear();
            on_text(c, text);
          }
        }
      }
    }
    std::erase_if(conns, [](const auto& c) { return c->sock < 0; });
    const auto now = steady::now();
    if (now - last_fetch >= settings_.tick) {
      last_fetch = now;
      try {
        std::lock_guard poll_lock(poll_mu_);
        fetch(conns);
        poll_cv_.notify_all();
      } catch (const std::exception& e) {
        log_warn("socket.io: cannot read new events", {{"error", e.what()}});
      }
      {
        std::lock_guard poll_lock(poll_mu_);
        tend_polls(now);
      }
      for (auto& c : conns) {
        if (c->sock < 0 || c->closing) continue;
        if (!c->who && now - c->created >= settings_.connect_within) {
          close(*c);  // never sent Socket.IO's CONNECT
          continue;
        }
        if (c->awaiting_pong && now - c->last_ping >= settings_.ping_interval + settings_.ping_timeout) {
          close(*c);  // no pong: the client is gone
          continue;
        }
        if (!c->awaiting_pong && now - c->last_ping >= settings_.ping_interval) {
          send_text(*c, "2");
          c->awaiting_pong = true;
          c->last_ping = now;
        }
        if (c->who && now - c->last_token_check >= settings_.token_check) {
          c->last_token_check = now;
          bool valid = true;
          try {
            valid = authenticate_(c->token).has_value();
          } catch (const std::exception&) {
            // The database is unavailable: keep the connection, check again later.
          }
          if (!valid) {
            send_text(*c, "41");  // the server ends the namespace: log in again
            c->closing = true;
          }
        }
      }
    }
    if (replay_.exchange(false)) {
      for (auto& c : conns) {
        if (c->sock >= 0 && c->who && !c->last_payload.empty()) {
          send_text(*c, "42" + json::array({"transaction", c->last_payload}).dump());
        }
      }
      std::lock_guard poll_lock(poll_mu_);
      for (auto& [sid, c] : polls_) {
        if (c->who && !c->last_payload.empty()) send_text(*c, "42" + json::array({"transaction", c->last_payload}).dump());
      }
      poll_cv_.notify_all();
    }
    for (auto& c : conns) {
      if (c->sock < 0) continue;
      if (!c->out.empty() && !flush(*c)) {
        close(*c);
        continue;
      }
      if (c->closing && c->out.empty()) close(*c);
    }
    std::erase_if(conns, [](const auto& c) { return c->sock < 0; });
  }
  for (auto& c : conns) close(*c);
}

}  // namespace flexmarket::api::compat::etp
