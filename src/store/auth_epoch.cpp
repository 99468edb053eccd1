#include "store/auth_epoch.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <pqxx/pqxx>

#include "core/log.hpp"

namespace flexmarket::store {

namespace {

class LocalEpoch final : public AuthEpoch {
 public:
  std::optional<std::uint64_t> current() const override { return n_.load(std::memory_order_acquire); }
  void bump() override { n_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  std::atomic<std::uint64_t> n_{1};
};

// Eight bytes in a file every process on the database maps; lock-free atomics on shared
// memory are address-free on the platforms we build for.
class SharedFileEpoch final : public AuthEpoch {
 public:
  explicit SharedFileEpoch(std::uint64_t* word) : word_(word) {}
  ~SharedFileEpoch() override { ::munmap(word_, sizeof(std::uint64_t)); }
  std::optional<std::uint64_t> current() const override {
    if (!word_) return std::nullopt;
    return __atomic_load_n(word_, __ATOMIC_ACQUIRE);
  }
  void bump() override { __atomic_fetch_add(word_, 1, __ATOMIC_ACQ_REL); }

  static std::unique_ptr<AuthEpoch> open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return nullptr;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || (st.st_size < 8 && ::ftruncate(fd, 8) != 0)) {
      ::close(fd);
      return nullptr;
    }
    void* p = ::mmap(nullptr, sizeof(std::uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return nullptr;
    return std::make_unique<SharedFileEpoch>(static_cast<std::uint64_t*>(p));
  }

 private:
  std::uint64_t* word_;
};

// Nothing may be cached: the shared counter could not be opened.
class NoEpoch final : public AuthEpoch {
 public:
  std::optional<std::uint64_t> current() const override { return std::nullopt; }
  void bump() override {}
};

constexpr const char* kChannel = kAuthChannel;

class ListeningEpoch final : public AuthEpoch {
 public:
  explicit ListeningEpoch(std::string url) : url_(std::move(url)), thread_([this] { run(); }) {}
  ~ListeningEpoch() override {
    stop_.store(true);
    thread_.join();
  }
  std::optional<std::uint64_t> current() const override {
    if (!listening_.load(std::memory_order_acquire)) return std::nullopt;
    return n_.load(std::memory_order_acquire);
  }
  void bump() override { n_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  struct Receiver final : pqxx::notification_receiver {
    Receiver(pqxx::connection_base& c, ListeningEpoch& owner) : pqxx::notification_receiver(c, kChannel), owner_(owner) {}
    void operator()(const std::string&, int) override { owner_.bump(); }
    ListeningEpoch& owner_;
  };

  void run() {
    while (!stop_.load()) {
      try {
        pqxx::connection conn(url_);
        Receiver receiver(conn, *this);
        conn.get_notifs();  // the receiver's LISTEN is in effect from here
        // Changes made while nobody listened are unknown: start from a new version.
        bump();
        listening_.store(true, std::memory_order_release);
        while (!stop_.load()) conn.await_notification(0, 200'000);
      } catch (const std::exception& e) {
        if (listening_.exchange(false)) log_warn("token cache off: lost the auth notification connection", {{"error", e.what()}});
      }
      listening_.store(false, std::memory_order_release);
      for (int i = 0; i < 10 && !stop_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::string url_;
  std::atomic<std::uint64_t> n_{1};
  std::atomic<bool> listening_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<AuthEpoch> AuthEpoch::open(const std::string& url) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return std::make_unique<ListeningEpoch>(url);
  }
  if (url.rfind("sqlite://", 0) == 0) {
    std::string path = url.substr(9);
    path = path.substr(0, path.find('?'));
    if (path.empty() || path == ":memory:" || path.find("mode=memory") != std::string::npos) {
      return std::make_unique<LocalEpoch>();
    }
    if (auto shared = SharedFileEpoch::open(path + "-auth")) return shared;
    log_warn("token cache off: cannot map the auth counter beside the database", {{"path", path + "-auth"}});
    return std::make_unique<NoEpoch>();
  }
  return std::make_unique<LocalEpoch>();
}

}  // namespace flexmarket::store
