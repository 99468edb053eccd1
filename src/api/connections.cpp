#include "api/connections.hpp"
#include "api/http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace flexmarket::api {

namespace {

thread_local ConnectionStream* t_connection = nullptr;

void address_of(socket_t sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int rc = peer ? ::getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len)
                      : ::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len);
  ip.clear();
  port = 0;
  if (rc != 0) return;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
  }
  ip = buf;
}

void close_socket(socket_t sock) {
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
}

}  // namespace

ConnectionStream* current_connection() { return t_connection; }

ConnectionStream::ConnectionStream(socket_t sock, std::string remote_ip, int remote_port,
                                   time_t read_timeout_sec, time_t write_timeout_sec)
    : sock_(sock),
      remote_ip_(std::move(remote_ip)),
      remote_port_(remote_port),
      read_timeout_sec_(read_timeout_sec),
      write_timeout_sec_(write_timeout_sec) {}

bool ConnectionStream::wait(short events, time_t timeout_sec, bool bounded_by_deadline) const {
  auto limit = Clock::now() + std::chrono::seconds(timeout_sec);
  if (bounded_by_deadline) limit = std::min(limit, deadline_);
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(limit - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{sock_, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

bool ConnectionStream::is_readable() const {
  return has_buffered_input() || wait(POLLIN, read_timeout_sec_, true);
}

bool ConnectionStream::is_writable() const { return wait(POLLOUT, write_timeout_sec_, false); }

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (has_buffered_input()) {
    const size_t n = std::min(size, buf_len_ - buf_off_);
    std::memcpy(ptr, buf_ + buf_off_, n);
    buf_off_ += n;
    return static_cast<ssize_t>(n);
  }
  // Whatever is waiting to be sent goes first: the client may wait for it before it sends
  // more (an interim "100 Continue").
  if (!flush()) return -1;
  char* into = size >= sizeof buf_ ? ptr : buf_;
  const size_t room = size >= sizeof buf_ ? size : sizeof buf_;
  // Try first: a request's bytes are usually there already, which saves a poll per read.
  ssize_t n;
  while (true) {
    n = ::recv(sock_, into, room, MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return n;
    if (!wait(POLLIN, read_timeout_sec_, true)) return -1;
  }
  if (n <= 0 || into == ptr) return n;
  buf_off_ = 0;
  buf_len_ = static_cast<size_t>(n);
  const size_t take = std::min(size, buf_len_);
  std::memcpy(ptr, buf_, take);
  buf_off_ = take;
  return static_cast<ssize_t>(take);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  // After adoption the answer has been given in the adopter's own format; after answer()
  // it is in the buffer already.
  if (adopted() || answered_) return static_cast<ssize_t>(size);
  // A response's status line, headers and body leave in one send (one packet for a small
  // answer) when process_request is done; large bodies go out as they come.
  if (out_.size() + size <= kOutLimit) {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  if (!flush()) return -1;
  return send_all({ptr, size}) ? static_cast<ssize_t>(size) : -1;
}

bool ConnectionStream::flush() {
  if (out_.empty()) return true;
  const bool ok = send_all(out_);
  out_.clear();
  return ok;
}

bool ConnectionStream::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(sock_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!is_writable()) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool ConnectionStream::write_all(std::string_view bytes) { return flush() && send_all(bytes); }

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = remote_ip_;
  port = remote_port_;
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  address_of(sock_, false, ip, port);
}

bool GuardedServer::take_slot(const std::string& address) {
  // A trusted proxy carries every client's connections: the bound is for clients.
  if (is_trusted_proxy(address)) return true;
  std::lock_guard lock(mu_);
  int& n = per_address_[address];
  if (n >= max_per_address_) {
    if (n == 0) per_address_.erase(address);
    return false;
  }
  ++n;
  return true;
}

void GuardedServer::release_slot(const std::string& address) {
  if (is_trusted_proxy(address)) return;
  std::lock_guard lock(mu_);
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
}

int GuardedServer::connections_from(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = per_address_.find(address);
  return it == per_address_.end() ? 0 : it->second;
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  std::string ip;
  int port = 0;
  address_of(sock, true, ip, port);
  if (!take_slot(ip)) {
    static constexpr std::string_view busy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: "
        "close\r\n"
        "Retry-After: 5\r\nContent-Length: 110\r\n\r\n"
        R"({"error":{"code":"too_many_connections","message":"this address holds too many open connections; close some"}})";
    static_assert(busy.size() - busy.find("\r\n\r\n") - 4 == 110);
    ::send(sock, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close_socket(sock);
    return false;
  }
  ConnectionStream strm(sock, ip, port, read_timeout_sec_, write_timeout_sec_);
  t_connection = &strm;
  bool ret = false;
  for (size_t count = keep_alive_max_count_; count > 0; --count) {
    // Idle between requests: wait for the next one in short slices so that a stopping
    // server lets the connection go at once.
    bool ready = strm.has_buffered_input();
    const auto idle_until =
        std::chrono::steady_clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
    while (!ready && svr_sock_ != INVALID_SOCKET && std::chrono::steady_clock::now() < idle_until) {
      pollfd p{sock, POLLIN, 0};
      const int rc = ::poll(&p, 1, 100);
      if (rc > 0)
        ready = true;
      else if (rc < 0 && errno != EINTR)
        break;
    }
    if (!ready || svr_sock_ == INVALID_SOCKET) break;
    strm.start_request(std::chrono::steady_clock::now() + request_timeout_);
    bool closed = false;
    ret = process_request(strm, count == 1, closed, nullptr);
    if (!strm.adopted() && !strm.flush()) ret = false;
    if (strm.adopted() || !ret || closed || strm.closing()) break;
  }
  t_connection = nullptr;
  release_slot(ip);
  if (strm.adopted()) {
    strm.hand_over();
  } else {
    close_socket(sock);
  }
  return ret;
}

}  // namespace flexmarket::api
