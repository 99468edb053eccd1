#include "cli/meter.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "integrity/records.hpp"
#include "timeseries/csv.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::cli {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Exit statuses (docs/meter-upload.md).
constexpr int kDelivered = 0, kRejected = 1, kUsage = 2, kSpooled = 3;

// Ends the command: the message goes to standard error, the code is the exit status.
struct Failure : std::runtime_error {
  Failure(int c, const std::string& m) : std::runtime_error(m), code(c) {}
  int code;
};

struct KeygenOptions {
  std::string out;
  bool force = false;
};

struct UploadOptions {
  std::string key_path, server, token, ca_cert;
  std::int64_t meter_id = 0;
  bool meter_given = false;
  std::string json_path, csv_path, format, kind = "demand", timezone = "UTC";
  int cluster = 0;
  bool from_stdin = false, seal = false;
  int batch = 500;
  std::string spool;
  int retries = 5;
};

// --- files -------------------------------------------------------------------------------

std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Failure(kRejected, "cannot write " + path + ": " + errno_text());
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void fsync_or_fail(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throw Failure(kRejected, "cannot flush " + path + " to disk: " + errno_text());
}

// A rename is durable only once its directory is.
void fsync_dir_of(const std::string& path) {
  std::string dir = fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Replaces a small file whole: readers see the old or the new text, never a mix.
void write_atomically(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a left-over file would keep its own mode
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw Failure(kRejected, "cannot write " + tmp + ": " + errno_text());
  try {
    write_all(fd, text, tmp);
    fsync_or_fail(fd, tmp);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw Failure(kRejected, "cannot replace " + path + ": " + errno_text());
  fsync_dir_of(path);
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Held for the whole run: two uploads with one key would hand out one seq twice.
int lock_file(const std::string& path, int flags, const std::string& what) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0) throw Failure(kUsage, "cannot open " + path + ": " + errno_text());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw Failure(kUsage, "another `flexmarket meter upload` is using " + path + " (" + what + "); let it finish first");
  }
  return fd;
}

// --- the key ------------------------------------------------------------------------------

integrity::SigningKey load_key(const std::string& path) {
  const auto text = read_text(path);
  if (!text) throw Failure(kUsage, "cannot read the meter key " + path + ": " + errno_text());
  const json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || j.value("type", "") != "flexmarket-meter-key" || !j.contains("public_key") ||
      !j["public_key"].is_string() || !j.contains("secret_key") || !j["secret_key"].is_string()) {
    throw Failure(kUsage, path + " is not a meter key (make one with `flexmarket meter keygen --out " + path + "`)");
  }
  const auto pub = integrity::from_base64(j["public_key"].get<std::string>());
  const auto sec = integrity::from_base64(j["secret_key"].get<std::string>());
  if (!pub || pub->size() != integrity::kPublicKeyBytes) {
    throw Failure(kUsage, path + ": public_key must be 32 bytes in base64");
  }
  if (!sec || sec->size() != integrity::kSecretKeyBytes) {
    throw Failure(kUsage, path + ": secret_key must be 64 bytes in base64");
  }
  // An Ed25519 secret key ends with its public key: a mismatch means a damaged file.
  if (!std::equal(pub->begin(), pub->end(), sec->begin() + 32)) {
    throw Failure(kUsage, path + ": the public key does not belong to the secret key");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    std::cerr << "warning: " << path << " can be read by other users; chmod 600 " << path << "\n";
  }
  integrity::SigningKey k;
  std::copy(pub->begin(), pub->end(), k.public_key.begin());
  std::copy(sec->begin(), sec->end(), k.secret_key.begin());
  return k;
}

int keygen(const KeygenOptions& o) {
  if (o.out.empty()) throw Failure(kUsage, "give the key file to write with --out");
  const auto k = integrity::generate_signing_key();
  const std::string text = json{{"type", "flexmarket-meter-key"},
                                {"public_key", integrity::base64(k.public_key)},
                                {"secret_key", integrity::base64(k.secret_key)}}
                               .dump() +
                           "\n";
  if (o.force) {
    write_atomically(o.out, text, 0600);
  } else {
    // O_EXCL: a meter's only key must never be overwritten by accident.
    const int fd = ::open(o.out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
      throw Failure(kUsage, o.out + " exists; it may be a meter's registered key (give --force to replace it)");
    }
    if (fd < 0) throw Failure(kUsage, "cannot create " + o.out + ": " + errno_text());
    try {
      write_all(fd, text, o.out);
      fsync_or_fail(fd, o.out);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    fsync_dir_of(o.out);
  }
  std::cout << integrity::base64(k.public_key) << "\n";
  std::cerr << "wrote the key pair to " << o.out << "; register the public key above with POST /api/v1/meters\n";
  return 0;
}

// --- reading the input ------------------------------------------------------------------

constexpr std::size_t kMaxInputErrors = 20;

std::vector<integrity::MeterRecord> records_from_json(const std::string& text, const std::string& source) {
  std::vector<integrity::MeterRecord> out;
  std::vector<std::string> errors;
  auto take = [&](const json& j, const std::string& where) {
    try {
      out.push_back(integrity::parse_record(j));
    } catch (const std::invalid_argument& e) {
      if (errors.size() < kMaxInputErrors) errors.push_back(source + ": " + where + ": " + e.what());
    }
  };
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    json all;
    try {
      all = json::parse(text);
    } catch (const json::parse_error& e) {
      throw Failure(kUsage, source + " is not a JSON array of records: " + e.what());
    }
    for (std::size_t i = 0; i < all.size(); ++i) take(all[i], "record " + std::to_string(i + 1));
  } else {
    std::size_t pos = 0, line_no = 0;
    while (pos < text.size()) {
      const std::size_t nl = text.find('\n', pos);
      const std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? text.size() : nl + 1;
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) {
        if (errors.size() < kMaxInputErrors) errors.push_back(source + ": line " + std::to_string(line_no) + ": not JSON");
        continue;
      }
      take(j, "line " + std::to_string(line_no));
    }
  }
  if (!errors.empty()) {
    std::string msg = "nothing was uploaded; fix these records first:";
    for (const auto& e : errors) msg += "\n  " + e;
    throw Failure(kUsage, msg);
  }
  return out;
}

std::vector<integrity::MeterRecord> records_from_csv(const UploadOptions& o) {
  const auto format = timeseries::parse_csv_format(o.format);
  if (!format) throw Failure(kUsage, "--format must be abri_bems, carlab_bems, ncku_bems or generic, not " + o.format);
  const auto kind = integrity::parse_record_kind(o.kind);
  if (!kind) throw Failure(kUsage, "--kind must be demand, ess, ev, pv or wt, not " + o.kind);
  const auto* tz = timeseries::find_zone(o.timezone);
  if (!tz) throw Failure(kUsage, "unknown --timezone " + o.timezone + " (an IANA name such as Asia/Taipei)");
  const auto text = read_text(o.csv_path);
  if (!text) throw Failure(kUsage, "cannot read " + o.csv_path + ": " + errno_text());
  const auto parsed = timeseries::parse_csv(*text, *format, tz);
  if (!parsed.errors.empty()) {
    std::string msg = "nothing was uploaded; fix these lines first:";
    for (const auto& e : parsed.errors) msg += "\n  " + o.csv_path + ":" + std::to_string(e.line) + ": " + e.message;
    throw Failure(kUsage, msg);
  }
  std::vector<integrity::MeterRecord> out;
  out.reserve(parsed.readings.size());
  for (const auto& reading : parsed.readings) {
    integrity::MeterRecord r;
    r.kind = *kind;
    const auto secs = std::chrono::floor<std::chrono::seconds>(reading.time);
    // Unique per meter as long as a kind (and cluster) has one reading per second.
    const std::string stamp = std::to_string(secs.time_since_epoch().count());
    r.id = *kind == integrity::RecordKind::demand ? "demand-" + stamp
                                                  : std::string(integrity::to_string(*kind)) + "-" +
                                                        std::to_string(o.cluster) + "-" + stamp;
    r.updated_at = reading.time;
    r.utc_offset_minutes = static_cast<int>(
        std::chrono::duration_cast<std::chrono::minutes>(tz->get_info(secs).offset).count());
    r.cluster = static_cast<std::uint16_t>(o.cluster);
    r.values.assign(integrity::value_fields(*kind).size(), 0.0);
    r.values[0] = reading.value;
    try {
      out.push_back(integrity::parse_record(integrity::record_json(r)));  // the server's checks, before spooling
    } catch (const std::invalid_argument& e) {
      throw Failure(kUsage, o.csv_path + ":" + std::to_string(reading.line) + ": " + e.what());
    }
  }
  return out;
}

// --- the seq counter ----------------------------------------------------------------------

// `<key>.seq`: the next seq this key's meter signs with. Advanced (and on disk) before any
// envelope with the seqs exists, so a crash can skip seqs but never reuse one.
class SeqCounter {
 public:
  explicit SeqCounter(std::string path) : path_(std::move(path)) {}

  std::uint64_t reserve(std::uint64_t n) {
    if (!next_) {
      if (const auto text = read_text(path_)) {
        const json j = json::parse(*text, nullptr, false);
        if (!j.is_object() || !j.contains("next_seq") || !j["next_seq"].is_number_unsigned()) {
          throw Failure(kUsage, path_ + " is damaged (expected {\"next_seq\": n}); it must not be guessed: "
                                        "set next_seq above the meter's last seq");
        }
        next_ = j["next_seq"].get<std::uint64_t>();
      } else {
        // A missing counter (first use, a new key, a lost file) starts at the clock in
        // microseconds: above any seq a counter started earlier has reached.
        next_ = static_cast<std::uint64_t>(to_micros(std::chrono::time_point_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now())));
      }
    }
    const std::uint64_t first = *next_;
    write_atomically(path_, json{{"next_seq", first + n}}.dump() + "\n", 0600);
    next_ = first + n;
    return first;
  }

 private:
  std::string path_;
  std::optional<std::uint64_t> next_;
};

// --- the spool ----------------------------------------------------------------------------

// The spool (JSON lines, appended and fsynced) holds every reading until the server has
// answered for it:
//   {"record": {...}}                                            not signed yet (no channel)
//   {"meter_id": n, "record_id": "...", "envelope": {...}, "from": offset}   signed
// "from" is the byte offset of the unsigned line it was signed from, so that line counts
// as done. `<spool>.pos` holds the offset before which every line is done; lines only
// leave the file when all are done (it is then emptied).
struct Entry {
  std::uint64_t begin = 0, end = 0;
  bool is_signed = false;
  json j;
  bool done = false;
};

class Spool {
 public:
  explicit Spool(std::string path) : path_(std::move(path)), pos_path_(path_ + ".pos") {}
  ~Spool() {
    if (fd_ >= 0) ::close(fd_);
  }

  void open() {
    fd_ = lock_file(path_, O_RDWR | O_CREAT | O_APPEND, "its spool");
    struct stat st {};
    ::fstat(fd_, &st);
    size_ = static_cast<std::uint64_t>(st.st_size);
    if (const auto text = read_text(pos_path_)) {
      const json j = json::parse(*text, nullptr, false);
      if (j.is_object() && j.contains("offset") && j["offset"].is_number_unsigned()) cursor_ = j["offset"].get<std::uint64_t>();
    }
    // Only an emptying interrupted before the cursor was reset leaves it past the end.
    if (cursor_ > size_) cursor_ = 0;
    std::string text(size_ - cursor_, '\0');
    std::size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::pread(fd_, text.data() + got, text.size() - got, static_cast<off_t>(cursor_ + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Failure(kRejected, "cannot read " + path_ + ": " + errno_text());
      got += static_cast<std::size_t>(n);
    }
    // A line without its newline is the end of an append that a crash cut short: that
    // run never sent it, and its readings were never reported as spooled.
    if (!text.empty() && text.back() != '\n') {
      const auto nl = text.rfind('\n');
      const std::size_t keep = nl == std::string::npos ? 0 : nl + 1;
      std::cerr << "warning: dropping an incomplete last line of " << path_ << " (an earlier run was interrupted)\n";
      text.resize(keep);
      size_ = cursor_ + keep;
      if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) throw Failure(kRejected, "cannot repair " + path_);
      fsync_or_fail(fd_, path_);
    }
    add_lines(text, cursor_);
    // An unsigned line whose signed copy is in the spool is done.
    std::map<std::uint64_t, std::size_t> by_begin;
    for (std::size_t i = 0; i < entries.size(); ++i) by_begin[entries[i].begin] = i;
    for (const auto& e : entries) {
      if (e.is_signed && e.j.contains("from") && e.j["from"].is_number_unsigned()) {
        if (auto it = by_begin.find(e.j["from"].get<std::uint64_t>()); it != by_begin.end()) entries[it->second].done = true;
      }
    }
  }

  // Appends lines (each ending in \n) and makes them durable.
  void append(const std::string& lines) {
    if (lines.empty()) return;
    write_all(fd_, lines, path_);
    fsync_or_fail(fd_, path_);
    const std::uint64_t at = size_;
    size_ += lines.size();
    add_lines(lines, at);
  }

  // Moves the cursor over the done lines at the front.
  void advance() {
    std::uint64_t c = cursor_;
    for (const auto& e : entries) {
      if (e.end <= cursor_) continue;
      if (!e.done) break;
      c = e.end;
    }
    if (c == cursor_) return;
    write_atomically(pos_path_, json{{"offset", c}}.dump() + "\n", 0600);
    cursor_ = c;
  }

  // Empties the file when every line is done (the end of a run).
  void finish() {
    advance();
    if (cursor_ != size_ || size_ == 0) return;
    // Emptied first, then the cursor reset: open() repairs a crash between the two.
    if (::ftruncate(fd_, 0) != 0) throw Failure(kRejected, "cannot empty " + path_ + ": " + errno_text());
    fsync_or_fail(fd_, path_);
    size_ = cursor_ = 0;
    entries.clear();
    write_atomically(pos_path_, json{{"offset", 0}}.dump() + "\n", 0600);
  }

  std::size_t pending() const {
    return static_cast<std::size_t>(std::count_if(entries.begin(), entries.end(), [](const Entry& e) { return !e.done; }));
  }
  const std::string& path() const { return path_; }

  std::vector<Entry> entries;  // from the cursor on, in file order

 private:
  void add_lines(const std::string& text, std::uint64_t at) {
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t nl = text.find('\n', pos);
      const std::string_view line(text.data() + pos, nl - pos);
      Entry e;
      e.begin = at + pos;
      e.end = at + nl + 1;
      pos = nl + 1;
      if (line.empty()) {
        e.done = true;
        entries.push_back(std::move(e));
        continue;
      }
      e.j = json::parse(line, nullptr, false);
      if (e.j.is_object() && e.j.contains("envelope") && e.j["envelope"].is_object() && e.j.contains("meter_id") &&
          e.j["meter_id"].is_number_integer()) {
        e.is_signed = true;
      } else if (!e.j.is_object() || !e.j.contains("record")) {
        throw Failure(kUsage, path_ + ": the line at byte " + std::to_string(e.begin) +
                                  " is not a spooled reading; move the file away to start a new spool");
      }
      entries.push_back(std::move(e));
    }
  }

  std::string path_, pos_path_;
  int fd_ = -1;
  std::uint64_t size_ = 0, cursor_ = 0;
};

// --- the server ---------------------------------------------------------------------------

class Server {
 public:
  Server(const UploadOptions& o, std::string token) : retries_(o.retries) {
    const auto scheme_end = o.server.find("://");
    const std::string scheme = scheme_end == std::string::npos ? "" : o.server.substr(0, scheme_end);
    if (scheme != "http" && scheme != "https") {
      throw Failure(kUsage, "--server must be an http:// or https:// URL, not " + o.server);
    }
    const auto path_start = o.server.find('/', scheme_end + 3);
    const std::string host = o.server.substr(0, path_start);
    if (host.size() <= scheme_end + 3) throw Failure(kUsage, "--server " + o.server + " names no host");
    if (path_start != std::string::npos) prefix_ = o.server.substr(path_start);  // a platform behind a path
    while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
    client_ = std::make_unique<httplib::Client>(host);
    if (!client_->is_valid()) throw Failure(kUsage, "cannot use --server " + o.server);
    client_->set_connection_timeout(10, 0);
    client_->set_read_timeout(120, 0);
    client_->set_write_timeout(60, 0);
    client_->set_keep_alive(true);
    client_->set_tcp_nodelay(true);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (!o.ca_cert.empty()) client_->set_ca_cert_path(o.ca_cert);
#endif
    headers_ = {{"Authorization", "Bearer " + token}};
  }

  // The answer, or nullopt when the server stayed unreachable (or busy) through every
  // retry; after that the run asks nothing more. 401 and 403 end the run.
  std::optional<httplib::Response> get(const std::string& path) {
    return send("GET " + path, [&] { return client_->Get(prefix_ + path, headers_); });
  }
  std::optional<httplib::Response> post(const std::string& path, const std::string& body) {
    return send("POST " + path, [&] { return client_->Post(prefix_ + path, headers_, body, "application/json"); });
  }
  bool down() const { return down_; }

 private:
  template <class F>
  std::optional<httplib::Response> send(const std::string& what, F request) {
    if (down_) return std::nullopt;
    for (int attempt = 0;; ++attempt) {
      auto res = request();
      std::string why;
      std::chrono::milliseconds wait{std::min<long long>(500LL << std::min(attempt, 10), 30'000)};
      if (!res) {
        why = "no answer (" + httplib::to_string(res.error()) + ")";
      } else if (res->status >= 500 || res->status == 429 || res->status == 408) {
        why = "answered " + std::to_string(res->status);
        if (const auto ra = res->get_header_value("Retry-After"); !ra.empty()) {
          try {
            wait = std::chrono::seconds(std::clamp(std::stoll(ra), 0LL, 60LL));
          } catch (const std::exception&) {
          }
        }
      } else if (res->status == 401) {
        throw Failure(kUsage, "the server refused the token (" + what + " answered 401): give the meter's token "
                              "from its registration with --token or FLEXMARKET_TOKEN");
      } else if (res->status == 403) {
        throw Failure(kUsage, "the token may not do this (" + what + " answered 403: " + res->body +
                                  "); a meter token may only upload for its own meter");
      } else {
        return std::move(*res);
      }
      if (attempt >= retries_) {
        std::cerr << "error: " << what << ": " << why << "; gave up after " << attempt + 1 << " attempts\n";
        down_ = true;
        return std::nullopt;
      }
      std::cerr << "warning: " << what << ": " << why << "; retrying in " << wait.count() / 1000.0 << " s ("
                << attempt + 1 << "/" << retries_ << ")\n";
      std::this_thread::sleep_for(wait);
    }
  }

  std::unique_ptr<httplib::Client> client_;
  std::string prefix_;
  httplib::Headers headers_;
  int retries_;
  bool down_ = false;
};

json body_json(const httplib::Response& res, const std::string& what) {
  const json j = json::parse(res.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Failure(kRejected, what + " answered something that is not a JSON object");
  return j;
}

std::string utc_date(Instant t) {
  return timeseries::format_date(date::year_month_day{date::floor<date::days>(t)});
}

// --- the upload ---------------------------------------------------------------------------

struct Counts {
  std::size_t accepted = 0, duplicate = 0, rejected = 0;
};

class Upload {
 public:
  Upload(const UploadOptions& o, integrity::SigningKey key, Spool& spool, Server& server)
      : o_(o), key_(key), spool_(spool), server_(server), seq_(o.key_path + ".seq") {}

  // Signs what the spool holds unsigned; stops (leaving the rest unsigned) when the server
  // cannot be reached for the meter id, a channel or the box key.
  void sign_pending() {
    std::vector<std::size_t> pending;
    for (std::size_t i = 0; i < spool_.entries.size(); ++i) {
      if (!spool_.entries[i].is_signed && !spool_.entries[i].done) pending.push_back(i);
    }
    if (pending.empty()) return;
    if (!meter_id()) return;
    std::optional<integrity::Bytes> box;
    if (o_.seal) {
      box = box_key();
      if (!box) return;
    }
    constexpr std::size_t kChunk = 5000;  // seqs reserved and lines appended per write
    std::vector<json> local_rejects;
    for (std::size_t start = 0; start < pending.size(); start += kChunk) {
      struct Ready {
        std::size_t entry;
        integrity::MeterRecord record;
        std::string channel;
      };
      std::vector<Ready> ready;
      bool stopped = false;
      for (std::size_t k = start; k < std::min(pending.size(), start + kChunk); ++k) {
        Entry& e = spool_.entries[pending[k]];
        integrity::MeterRecord r;
        try {
          r = integrity::parse_record(e.j["record"]);
        } catch (const std::invalid_argument& ex) {
          local_rejects.push_back({{"record", e.j["record"]}, {"reason", "malformed"}, {"message", ex.what()}});
          e.done = true;
          continue;
        }
        const auto ch = channel(utc_date(r.updated_at));
        if (!ch) {
          stopped = true;
          break;
        }
        if (ch->empty()) {
          local_rejects.push_back({{"record", e.j["record"]}, {"reason", "no_channel"}, {"message", channel_refusals_[utc_date(r.updated_at)]}});
          e.done = true;
          continue;
        }
        ready.push_back({pending[k], std::move(r), *ch});
      }
      if (!ready.empty()) {
        std::uint64_t seq = seq_.reserve(ready.size());
        std::string lines;
        for (const auto& rd : ready) {
          const auto msg = integrity::signed_message(*meter_id_, rd.channel, seq, rd.record);
          json env = {{"channel", rd.channel}, {"seq", seq}};
          const json rec = integrity::record_json(rd.record);
          if (box) {
            const std::string plain = rec.dump();
            env["sealed"] = integrity::base64(integrity::seal(
                std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(plain.data()), plain.size()), *box));
          } else {
            env["record"] = rec;
          }
          env["signature"] = integrity::base64(integrity::sign(msg, key_));
          lines += json{{"meter_id", *meter_id_}, {"record_id", rd.record.id}, {"envelope", std::move(env)},
                        {"from", spool_.entries[rd.entry].begin}}
                       .dump() +
                   "\n";
          ++seq;
        }
        spool_.append(lines);
        for (const auto& rd : ready) spool_.entries[rd.entry].done = true;
      }
      if (stopped) break;
    }
    if (!local_rejects.empty()) {
      write_rejected(local_rejects);
      counts.rejected += local_rejects.size();
    }
  }

  // Posts the signed envelopes in spool order, in batches; stops when the server is down.
  void send() {
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < spool_.entries.size(); ++i) {
      if (spool_.entries[i].is_signed && !spool_.entries[i].done) todo.push_back(i);
    }
    spool_.advance();  // lines signed above may already let the cursor move
    const std::size_t total = todo.size();
    std::size_t sent = 0;
    const auto batch = static_cast<std::size_t>(o_.batch);
    while (sent < total) {
      // A batch: consecutive envelopes of one meter (a spool may hold an earlier meter id).
      const std::int64_t meter = spool_.entries[todo[sent]].j["meter_id"].get<std::int64_t>();
      std::size_t n = 0;
      json envelopes = json::array();
      while (sent + n < total && n < batch && spool_.entries[todo[sent + n]].j["meter_id"].get<std::int64_t>() == meter) {
        envelopes.push_back(spool_.entries[todo[sent + n]].j["envelope"]);
        ++n;
      }
      const std::string path = "/api/v1/meters/" + std::to_string(meter) + "/readings";
      const auto res = server_.post(path, json{{"envelopes", std::move(envelopes)}}.dump());
      if (!res) return;
      if (res->status != 200) {
        throw Failure(kRejected, "POST " + path + " answered " + std::to_string(res->status) + ": " + res->body +
                                     " (the envelopes stay in " + spool_.path() + ")");
      }
      const json body = body_json(*res, "POST " + path);
      std::vector<bool> answered(n, false);
      std::vector<json> rejects;
      if (body.contains("results") && body["results"].is_array()) {
        for (const auto& r : body["results"]) {
          if (!r.is_object() || !r.contains("index") || !r["index"].is_number_unsigned()) continue;
          const auto i = r["index"].get<std::size_t>();
          if (i >= n || answered[i]) continue;
          Entry& e = spool_.entries[todo[sent + i]];
          const std::string status = r.value("status", "");
          if (status == "accepted") {
            ++counts.accepted;
          } else if (status == "duplicate") {
            ++counts.duplicate;  // accepted before: an earlier answer was lost
          } else if (status == "rejected") {
            rejects.push_back({{"meter_id", meter},
                               {"record_id", e.j.value("record_id", "")},
                               {"envelope", e.j["envelope"]},
                               {"reason", r.value("reason", "")},
                               {"message", r.value("message", "")}});
          } else {
            continue;
          }
          answered[i] = true;
          e.done = true;
        }
      }
      const auto unanswered = static_cast<std::size_t>(std::count(answered.begin(), answered.end(), false));
      if (unanswered > 0) {
        // Kept: sending them again is safe, the server answers "duplicate" if it took them.
        std::cerr << "warning: the server's answer names no result for " << unanswered
                  << " envelopes of the batch; they stay in the spool\n";
      }
      if (!rejects.empty()) {
        write_rejected(rejects);
        counts.rejected += rejects.size();
      }
      spool_.advance();
      sent += n;
      if (total > batch) std::cerr << "uploaded " << sent << "/" << total << "\n";
    }
  }

  Counts counts;

 private:
  std::optional<std::int64_t> meter_id() {
    if (meter_id_) return meter_id_;
    if (o_.meter_id > 0) return meter_id_ = o_.meter_id;
    const auto res = server_.get("/api/v1/me");
    if (!res) return std::nullopt;
    if (res->status != 200) throw Failure(kRejected, "GET /api/v1/me answered " + std::to_string(res->status) + ": " + res->body);
    const json me = body_json(*res, "GET /api/v1/me");
    if (!me.contains("meter") || !me["meter"].is_object() || !me["meter"].contains("id") ||
        !me["meter"]["id"].is_number_integer()) {
      throw Failure(kUsage, "the token is not a meter's token (GET /api/v1/me names no meter); give --meter ID");
    }
    return meter_id_ = me["meter"]["id"].get<std::int64_t>();
  }

  std::optional<integrity::Bytes> box_key() {
    const auto res = server_.get("/api/v1/log/public-key");
    if (!res) return std::nullopt;
    if (res->status != 200) {
      throw Failure(kRejected, "GET /api/v1/log/public-key answered " + std::to_string(res->status) + ": " + res->body);
    }
    const json j = body_json(*res, "GET /api/v1/log/public-key");
    std::optional<integrity::Bytes> key;
    if (j.contains("box_key") && j["box_key"].is_string()) key = integrity::from_base64(j["box_key"].get<std::string>());
    if (!key || key->size() != 32) throw Failure(kRejected, "the server's box_key is not 32 bytes in base64");
    return key;
  }

  // The channel of a UTC day; "" when the server refuses that day (its records are
  // rejected here), nullopt when it cannot be reached.
  std::optional<std::string> channel(const std::string& day) {
    if (const auto it = channels_.find(day); it != channels_.end()) return it->second;
    const std::string path = "/api/v1/meters/" + std::to_string(*meter_id_) + "/channel?date=" + day;
    const auto res = server_.get(path);
    if (!res) return std::nullopt;
    if (res->status == 404) throw Failure(kUsage, "GET " + path + " answered 404: " + res->body + " (is --meter right?)");
    if (res->status != 200) {
      channel_refusals_[day] = "GET " + path + " answered " + std::to_string(res->status) + ": " + res->body;
      std::cerr << "warning: no channel for " << day << ": " << channel_refusals_[day] << "\n";
      return channels_[day] = "";
    }
    const json j = body_json(*res, "GET " + path);
    if (!j.contains("channel") || !j["channel"].is_string() || j["channel"].get<std::string>().empty() ||
        j["channel"].get<std::string>().size() > 255) {
      throw Failure(kRejected, "GET " + path + " answered no usable channel: " + res->body);
    }
    return channels_[day] = j["channel"].get<std::string>();
  }

  void write_rejected(const std::vector<json>& rejects) {
    std::string lines;
    for (const auto& r : rejects) lines += r.dump() + "\n";
    const std::string path = spool_.path() + ".rejected";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) throw Failure(kRejected, "cannot write " + path + ": " + errno_text());
    try {
      write_all(fd, lines, path);
      fsync_or_fail(fd, path);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    constexpr std::size_t kShown = 20;  // a whole file of replays would drown the terminal
    for (const auto& r : rejects) {
      if (shown_ == kShown) std::cerr << "rejected: ... (the rest are listed in " << path << ")\n";
      if (shown_++ >= kShown) continue;
      const std::string id = r.contains("record") ? r["record"].value("id", "") : r.value("record_id", "");
      std::cerr << "rejected: record " << id << ": "
                << r.value("reason", "") << ": " << r.value("message", "") << "\n";
    }
  }

  const UploadOptions& o_;
  integrity::SigningKey key_;
  Spool& spool_;
  Server& server_;
  SeqCounter seq_;
  std::optional<std::int64_t> meter_id_;
  std::map<std::string, std::string> channels_;
  std::map<std::string, std::string> channel_refusals_;
  std::size_t shown_ = 0;
};

int upload(const UploadOptions& o) {
  if (o.key_path.empty()) throw Failure(kUsage, "give the meter's key file with --meter-key");
  if (o.server.empty()) throw Failure(kUsage, "give the platform's URL with --server");
  if (o.meter_given && o.meter_id <= 0) throw Failure(kUsage, "--meter must be a meter id (a positive number)");
  if (o.batch < 1 || o.batch > 10000) throw Failure(kUsage, "--batch must be from 1 to 10000");
  if (o.retries < 0 || o.retries > 100) throw Failure(kUsage, "--retries must be from 0 to 100");
  if (o.cluster < 0 || o.cluster > 65535) throw Failure(kUsage, "--cluster must be from 0 to 65535");
  const int sources = (o.json_path.empty() ? 0 : 1) + (o.csv_path.empty() ? 0 : 1) + (o.from_stdin ? 1 : 0);
  if (sources > 1) throw Failure(kUsage, "give one of --json, --csv and --stdin");
  if (!o.csv_path.empty() && o.format.empty()) {
    throw Failure(kUsage, "--csv needs --format abri_bems, carlab_bems, ncku_bems or generic");
  }
  std::string token = o.token;
  if (token.empty()) {
    if (const char* t = std::getenv("FLEXMARKET_TOKEN")) token = t;
  }
  if (token.empty()) throw Failure(kUsage, "give the meter's token with --token or FLEXMARKET_TOKEN");
  Server server(o, token);  // checks the URL before anything is written
  const auto key = load_key(o.key_path);

  std::vector<integrity::MeterRecord> records;
  if (!o.json_path.empty()) {
    const auto text = read_text(o.json_path);
    if (!text) throw Failure(kUsage, "cannot read " + o.json_path + ": " + errno_text());
    records = records_from_json(*text, o.json_path);
  } else if (o.from_stdin) {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    records = records_from_json(ss.str(), "standard input");
  } else if (!o.csv_path.empty()) {
    records = records_from_csv(o);
  }

  const int key_lock = lock_file(o.key_path, O_RDONLY, "its key's seq counter");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } key_closer{key_lock};
  Spool spool(o.spool.empty() ? o.key_path + ".spool" : o.spool);
  spool.open();
  // Durable before any network: from here an outage or a crash loses none of them.
  std::string lines;
  for (const auto& r : records) lines += json{{"record", integrity::record_json(r)}}.dump() + "\n";
  spool.append(lines);

  Upload up(o, key, spool, server);
  int code = kDelivered;
  try {
    up.sign_pending();
    up.send();
  } catch (const Failure& f) {
    std::cerr << "error: " << f.what() << "\n";
    code = f.code;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    code = kRejected;
  }
  try {
    spool.finish();
  } catch (const Failure& f) {
    std::cerr << "error: " << f.what() << "\n";
    if (code == kDelivered) code = f.code;
  }
  const std::size_t left = spool.pending();
  std::cout << "accepted " << up.counts.accepted << ", duplicate " << up.counts.duplicate << ", rejected "
            << up.counts.rejected << ", spooled " << left << "\n";
  if (left > 0) {
    std::cerr << left << " readings stay in " << spool.path() << "; run `flexmarket meter upload` again (without "
              << "the input) to send them\n";
  }
  if (code != kDelivered) return code;
  if (left > 0) return kSpooled;
  return up.counts.rejected > 0 ? kRejected : kDelivered;
}

}  // namespace

struct MeterCommands::State {
  CLI::App* meter = nullptr;
  CLI::App* keygen = nullptr;
  CLI::App* upload = nullptr;
  KeygenOptions keygen_opts;
  UploadOptions upload_opts;
  CLI::Option* meter_opt = nullptr;
};

MeterCommands::MeterCommands(CLI::App& app) : s_(std::make_unique<State>()) {
  s_->meter = app.add_subcommand("meter", "a meter's keys and signed uploads (docs/integrity.md)");
  s_->meter->require_subcommand(1);

  s_->keygen = s_->meter->add_subcommand("keygen", "create a meter's Ed25519 key pair; prints the public key to register");
  auto& k = s_->keygen_opts;
  // Required options and ranges are checked by the commands, so that they exit with status 2.
  s_->keygen->add_option("--out", k.out, "the key file to write (mode 0600; required)");
  s_->keygen->add_flag("--force", k.force, "replace an existing key file");

  s_->upload = s_->meter->add_subcommand(
      "upload", "sign readings with the meter's key and post them; spools what the server has not taken yet");
  auto& u = s_->upload_opts;
  s_->upload->add_option("--meter-key", u.key_path, "the meter's key file (from meter keygen; required)");
  s_->upload->add_option("--server", u.server, "the platform's URL, e.g. https://market.example.org (required)");
  s_->upload->add_option("--token", u.token, "the meter's token (else FLEXMARKET_TOKEN)");
  s_->meter_opt = s_->upload->add_option("--meter", u.meter_id, "the meter's id (default: the meter of the token)");
  s_->upload->add_option("--json", u.json_path, "records as a JSON array or JSON lines");
  s_->upload->add_option("--csv", u.csv_path, "readings as a BEMS CSV file (with --format)");
  s_->upload->add_option("--format", u.format, "the CSV's format: abri_bems, carlab_bems, ncku_bems or generic");
  s_->upload->add_option("--kind", u.kind, "with --csv: the record kind of each reading (default demand: into grid)");
  s_->upload->add_option("--cluster", u.cluster, "with --csv and a kind other than demand: the device cluster (default 0)");
  s_->upload->add_option("--timezone", u.timezone, "with --csv: the zone of local times and of updated_at (default UTC)");
  s_->upload->add_flag("--stdin", u.from_stdin, "read records (JSON array or JSON lines) from standard input");
  s_->upload->add_flag("--seal", u.seal, "send each record sealed to the platform's box key");
  s_->upload->add_option("--batch", u.batch, "envelopes per request (default 500, at most 10000)");
  s_->upload->add_option("--spool", u.spool, "the spool file (default: the key file's name + .spool)");
  s_->upload->add_option("--retries", u.retries, "retries of a request when the server is unreachable or busy (default 5)");
  s_->upload->add_option("--ca-cert", u.ca_cert, "with https: trust this CA file (default: the system's CAs)");
}
MeterCommands::~MeterCommands() = default;
bool MeterCommands::parsed() const { return s_->meter->parsed(); }

int MeterCommands::run() {
  try {
    if (s_->keygen->parsed()) return keygen(s_->keygen_opts);
    if (s_->upload->parsed()) {
      s_->upload_opts.meter_given = s_->meter_opt->count() > 0;
      return upload(s_->upload_opts);
    }
  } catch (const Failure& f) {
    std::cerr << "error: " << f.what() << "\n";
    return f.code;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kRejected;
  }
  return kUsage;
}

}  // namespace flexmarket::cli
