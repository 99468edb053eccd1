// `flexmarket meter keygen` and `flexmarket meter upload`, running the real binary: the key
// file, signed envelopes that verify, the spool (an outage loses nothing, a lost answer or a
// second run sends nothing twice), clear refusals; first against a stand-in for the
// platform's meter routes (so the uploader's own logic is checked, lost answers included),
// then against a real server that is killed and restarted in the middle of an upload.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/time.hpp"
#include "integrity/records.hpp"
#include "store/database.hpp"
#include "support/fixture.hpp"
#include "timeseries/local_time.hpp"

namespace flexmarket::testing {
namespace {

namespace fs = std::filesystem;

std::string meter_bin() { return FLEXMARKET_BINARY; }

// `count` demand records every 15 minutes from `start`, written in Taipei time.
json demand_records(std::size_t count, Instant start, const std::string& prefix = "r") {
  json out = json::array();
  for (std::size_t i = 0; i < count; ++i) {
    const Instant t = start + std::chrono::minutes(15) * static_cast<int>(i);
    out.push_back({{"kind", "demand"},
                   {"id", prefix + "-" + std::to_string(i)},
                   {"updated_at", integrity::format_with_offset(t, 8 * 60)},
                   {"grid", static_cast<double>(i % 97) / 4.0},
                   {"pv", 0.0},
                   {"building", static_cast<double>(i % 97) / 4.0},
                   {"ess", 0.0},
                   {"ev", 0.0}});
  }
  return out;
}

Instant day_start_days_ago(int days) {
  const auto today = date::floor<date::days>(std::chrono::system_clock::now());
  return Instant(std::chrono::duration_cast<std::chrono::microseconds>((today - date::days(days)).time_since_epoch()));
}

std::size_t line_count(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

// Checks the envelopes as the platform does (docs/integrity.md), with its own channel and box keys.
class FakePlatform {
 public:
  static constexpr std::int64_t kMeter = 7;
  static constexpr const char* kToken = "meter-token-7";

  explicit FakePlatform(std::span<const std::uint8_t> meter_public_key)
      : public_key_(meter_public_key.begin(), meter_public_key.end()), box_(integrity::generate_box_key()) {
    channel_key_.assign(32, 0x5a);
    srv_.Get("/api/v1/me", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      res.set_content(json{{"meter", {{"id", kMeter}}}}.dump(), "application/json");
    });
    srv_.Get(R"(/api/v1/meters/(\d+)/channel)", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      const auto day = timeseries::parse_date(req.get_param_value("date"));
      if (std::stoll(req.matches[1]) != kMeter || !day) {
        res.status = std::stoll(req.matches[1]) != kMeter ? 404 : 400;
        return;
      }
      res.set_content(json{{"meter_id", kMeter}, {"date", req.get_param_value("date")},
                           {"channel", integrity::channel_for(channel_key_, kMeter, *day)}}
                          .dump(),
                      "application/json");
    });
    srv_.Get("/api/v1/log/public-key", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(json{{"signing_key", "unused"}, {"box_key", integrity::base64(box_.public_key)}}.dump(),
                      "application/json");
    });
    srv_.Post(R"(/api/v1/meters/(\d+)/readings)", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      std::lock_guard lock(m_);
      ++batches;
      const json body = json::parse(req.body);
      json results = json::array();
      std::size_t accepted = 0, rejected = 0;
      for (std::size_t i = 0; i < body["envelopes"].size(); ++i) {
        const json& e = body["envelopes"][i];
        json r = {{"index", i}, {"seq", e["seq"]}};
        const auto reason = check(e);
        if (reason == "duplicate") {
          r["status"] = "duplicate";
        } else if (!reason.empty()) {
          r["status"] = "rejected";
          r["reason"] = reason;
          r["message"] = "refused by the stand-in";
          ++rejected;
        } else {
          r["status"] = "accepted";
          ++accepted;
        }
        results.push_back(r);
      }
      if (lose_answers > 0) {  // stored, but the answer never reaches the meter
        --lose_answers;
        res.status = 503;
        return;
      }
      res.set_content(json{{"accepted", accepted}, {"rejected", rejected}, {"results", results}}.dump(),
                      "application/json");
    });
    port = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    // bind_to_any_port listens already: connections queue until the thread accepts them.
  }
  ~FakePlatform() {
    srv_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

  int port = 0;
  std::mutex m_;
  std::vector<json> stored;  // accepted records in order
  std::set<std::uint64_t> seqs;
  std::size_t sealed = 0;
  int batches = 0;
  int lose_answers = 0;

 private:
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") == std::string("Bearer ") + kToken) return true;
    res.status = 401;
    res.set_content(R"({"error":"unauthorized"})", "application/json");
    return false;
  }

  // "" when accepted, "duplicate", or the reason of a rejection.
  std::string check(const json& e) {
    json record_json;
    if (e.contains("sealed")) {
      const auto opened = integrity::open_sealed(*integrity::from_base64(e["sealed"].get<std::string>()), box_);
      if (!opened) return "malformed";
      record_json = json::parse(std::string(opened->begin(), opened->end()));
      ++sealed;
    } else {
      record_json = e["record"];
    }
    const auto r = integrity::parse_record(record_json);
    const std::string channel = e["channel"];
    const auto seq = e["seq"].get<std::uint64_t>();
    const auto sig = integrity::from_base64(e["signature"].get<std::string>());
    if (!sig || !integrity::verify_signature(integrity::signed_message(kMeter, channel, seq, r), *sig, public_key_)) {
      return "bad_signature";
    }
    if (channel != integrity::channel_for(channel_key_, kMeter, date::year_month_day{date::floor<date::days>(r.updated_at)})) {
      return "wrong_channel";
    }
    if (signatures_.count(e["signature"])) return "duplicate";
    if (seqs.count(seq)) return "replayed_seq";
    if (ids_.count(r.id)) return "replayed_id";
    seqs.insert(seq);
    ids_.insert(r.id);
    signatures_.insert(e["signature"]);
    stored.push_back(record_json);
    return "";
  }

  integrity::Bytes public_key_;
  integrity::Bytes channel_key_;
  integrity::BoxKey box_;
  std::set<std::string> ids_, signatures_;
  httplib::Server srv_;
  std::thread thread_;
};

class MeterUploadCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = make_temp_dir("fm-meter");
    key = dir + "/meter.key";
    const auto r = run({meter_bin(), "meter", "keygen", "--out", key});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json k = json::parse(read_file(key));
    public_key = *integrity::from_base64(k["public_key"].get<std::string>());
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  RunResult upload(const std::string& url, std::vector<std::string> extra) {
    std::vector<std::string> argv = {meter_bin(), "meter", "upload", "--meter-key", key, "--server", url, "--token",
                                     FakePlatform::kToken};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  }

  std::string dir, key;
  integrity::Bytes public_key;
};

TEST_F(MeterUploadCli, KeygenWritesAPrivateUsableKeyAndNeverOverwritesOneByAccident) {
  const json k = json::parse(read_file(key));
  EXPECT_EQ(k["type"], "flexmarket-meter-key");
  const auto secret = integrity::from_base64(k["secret_key"].get<std::string>());
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->size(), 64u);
  EXPECT_EQ(public_key.size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // It signs: a signature made with the file's secret key verifies with its public key.
  integrity::SigningKey sk;
  std::copy(public_key.begin(), public_key.end(), sk.public_key.begin());
  std::copy(secret->begin(), secret->end(), sk.secret_key.begin());
  const std::string msg = "a reading";
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size());
  EXPECT_TRUE(integrity::verify_signature(bytes, integrity::sign(bytes, sk), public_key));

  const auto again = run({meter_bin(), "meter", "keygen", "--out", key});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;
  EXPECT_EQ(read_file(key), k.dump() + "\n");  // untouched
  const auto forced = run({meter_bin(), "meter", "keygen", "--out", key, "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  const json k2 = json::parse(read_file(key));
  EXPECT_EQ(forced.out, k2["public_key"].get<std::string>() + "\n");
  EXPECT_NE(k2["public_key"], k["public_key"]);  // printed for registration
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(MeterUploadCli, SignedEnvelopesVerifyInBatchesWithSeqsNeverReused) {
  FakePlatform fake(public_key);
  const auto input = write("r.json", demand_records(250, day_start_days_ago(3)).dump());
  auto r = upload(fake.url(), {"--json", input, "--batch", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 250, duplicate 0, rejected 0, spooled 0\n");
  EXPECT_NE(r.err.find("uploaded 100/250"), std::string::npos) << r.err;  // progress
  EXPECT_EQ(fake.batches, 3);
  ASSERT_EQ(fake.stored.size(), 250u);
  const json want = demand_records(250, day_start_days_ago(3));
  for (std::size_t i = 0; i < 250; ++i) {
    EXPECT_EQ(fake.stored[i]["id"], want[i]["id"]);
    EXPECT_EQ(fake.stored[i]["grid"], want[i]["grid"]);
    EXPECT_EQ(integrity::parse_record(fake.stored[i]).updated_at, integrity::parse_record(want[i]).updated_at);
  }
  EXPECT_EQ(fs::file_size(key + ".spool"), 0u);  // emptied once all were answered
  const auto next_seq = json::parse(read_file(key + ".seq"))["next_seq"].get<std::uint64_t>();
  EXPECT_EQ(*fake.seqs.rbegin() + 1, next_seq);

  // Sealed, as JSON lines from standard input: new seqs, the platform opens the boxes.
  std::string lines;
  for (const auto& rec : demand_records(20, day_start_days_ago(1), "s")) lines += rec.dump() + "\n";
  r = run({meter_bin(), "meter", "upload", "--meter-key", key, "--server", fake.url(), "--token", FakePlatform::kToken,
           "--stdin", "--seal"},
          {}, lines);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 20, duplicate 0, rejected 0, spooled 0\n");
  EXPECT_EQ(fake.sealed, 20u);
  EXPECT_EQ(fake.seqs.size(), 270u);
  EXPECT_EQ(*fake.seqs.rbegin() + 1, json::parse(read_file(key + ".seq"))["next_seq"].get<std::uint64_t>());
  EXPECT_EQ(*std::next(fake.seqs.begin(), 250), next_seq);  // the counter went on
}

TEST_F(MeterUploadCli, AnOutageSpoolsEverythingAndALostAnswerIsNotSentAsANewReading) {
  const auto input = write("r.json", demand_records(300, day_start_days_ago(5)).dump());
  // Nobody listens: the readings stay in the spool, unsigned (no channel yet).
  const std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
  auto r = upload(dead, {"--json", input, "--retries", "1"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 0, duplicate 0, rejected 0, spooled 300\n");
  EXPECT_NE(r.err.find("retrying"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("300 readings stay in " + key + ".spool"), std::string::npos) << r.err;
  EXPECT_EQ(line_count(key + ".spool"), 300u);

  // The platform is back, but the answer to the first batch is lost after it was stored:
  // the retry's envelopes are the same, so it counts them as duplicates, not new readings.
  FakePlatform fake(public_key);
  fake.lose_answers = 1;
  r = upload(fake.url(), {"--batch", "100", "--retries", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 200, duplicate 100, rejected 0, spooled 0\n");
  EXPECT_EQ(fake.stored.size(), 300u);
  EXPECT_EQ(fs::file_size(key + ".spool"), 0u);

  // A second run has nothing to send; the same file again is refused record by record.
  r = upload(fake.url(), {});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 0, duplicate 0, rejected 0, spooled 0\n");
  r = upload(fake.url(), {"--json", input});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 0, duplicate 0, rejected 300, spooled 0\n");
  EXPECT_NE(r.err.find("rejected: record r-0: replayed_id"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(key + ".spool.rejected"), std::string::npos) << r.err;  // the rest are listed there
  EXPECT_EQ(line_count(key + ".spool.rejected"), 300u);
  EXPECT_EQ(fake.stored.size(), 300u);
}

TEST_F(MeterUploadCli, ABemsCsvBecomesRecordsOfItsKindInItsTimezone) {
  FakePlatform fake(public_key);
  const auto csv = write("carlab.csv",
                         "id,field,grid_power,inserted_at\n"
                         "1,carlab,11.5,2026/11/22 10:00\n"
                         "2,carlab,12.0,2026/11/22 10:15\n");
  auto r = upload(fake.url(), {"--csv", csv, "--format", "carlab_bems", "--timezone", "Asia/Taipei"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(fake.stored.size(), 2u);
  EXPECT_EQ(fake.stored[0], (json{{"kind", "demand"}, {"id", "demand-1795312800"}, {"updated_at", "2026-11-22T10:00:00+08:00"},
                                  {"grid", 11.5}, {"pv", 0.0}, {"building", 0.0}, {"ess", 0.0}, {"ev", 0.0}}));
  // Another kind, local times read as UTC (the default): the value goes to the kind's field.
  r = upload(fake.url(), {"--csv", csv, "--format", "carlab_bems", "--kind", "pv", "--cluster", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(fake.stored.size(), 4u);
  EXPECT_EQ(fake.stored[3], (json{{"kind", "pv"}, {"id", "pv-2-1795342500"}, {"updated_at", "2026-11-22T10:15:00Z"},
                                  {"cluster", 2}, {"pac", 12.0}}));
}

TEST_F(MeterUploadCli, BadInputAndRefusalsSayWhatIsWrongAndSendNothing) {
  FakePlatform fake(public_key);
  const auto good = write("good.json", demand_records(2, day_start_days_ago(2)).dump());

  auto r = upload("ftp://127.0.0.1:1", {"--json", good});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--server must be an http:// or https:// URL"), std::string::npos) << r.err;

  r = run({meter_bin(), "meter", "upload", "--meter-key", dir + "/missing.key", "--server", fake.url(), "--token", "x",
           "--json", good});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot read the meter key " + dir + "/missing.key"), std::string::npos) << r.err;

  const auto not_key = write("not.key", "{\"hello\": 1}");
  r = run({meter_bin(), "meter", "upload", "--meter-key", not_key, "--server", fake.url(), "--token", "x", "--json", good});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not a meter key"), std::string::npos) << r.err;

  const auto bad = write("bad.json", R"([{"kind": "demand", "id": "a", "updated_at": "2026-11-22T10:00:00", "grid": 1,
                                          "pv": 0, "building": 0, "ess": 0, "ev": 0},
                                         {"kind": "heat", "id": "b"}])");
  r = upload(fake.url(), {"--json", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("record 1: record.updated_at must be an ISO 8601 time with an offset"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("record 2: record.kind must be"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(key + ".spool"));  // nothing spooled

  r = run({meter_bin(), "meter", "upload", "--meter-key", key, "--server", fake.url(), "--token", "wrong", "--json", good});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the server refused the token"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "accepted 0, duplicate 0, rejected 0, spooled 2\n");  // kept for a run with the right token
  r = upload(fake.url(), {});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fake.stored.size(), 2u);

  r = upload(fake.url(), {"--json", good, "--stdin"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("give one of --json, --csv and --stdin"), std::string::npos) << r.err;
  r = upload(fake.url(), {"--batch", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--batch must be from 1 to 10000"), std::string::npos) << r.err;
  r = run({meter_bin(), "meter", "upload", "--server", fake.url()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("give the meter's key file with --meter-key"), std::string::npos) << r.err;
}

// Against the real platform: a participant registers the meter, the uploader uses the
// meter's token.
class MeterUpload : public PlatformTest {
 protected:
  void SetUp() override {
    PlatformTest::SetUp();
    create_user("site@example.com", "Site", "participant");
    token = login(*http, "site@example.com", create_user_password);
    dir = make_temp_dir("fm-meter");
    key = dir + "/meter.key";
    const auto k = run({FLEXMARKET_BINARY, "meter", "keygen", "--out", key});
    ASSERT_EQ(k.exit_code, 0) << k.err;
    site = post("/api/v1/assets", token, {{"name", "Site"}, {"type", "site"}, {"timezone", "Asia/Taipei"}})["id"].get<std::int64_t>();
    sensor = post("/api/v1/sensors", token,
                  {{"name", "grid"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", site}})["id"].get<std::int64_t>();
    const json m = post("/api/v1/meters", token,
                        {{"name", "main meter"}, {"site_asset_id", site}, {"public_key", k.out.substr(0, k.out.size() - 1)}});
    meter_token = m["token"].get<std::string>();
    meter_id = m["id"].get<std::int64_t>();
  }
  void TearDown() override {
    fs::remove_all(dir);
    PlatformTest::TearDown();
  }
  void create_user(const std::string& email, const std::string& account, const std::string& role) {
    create_user_password = PlatformTest::create_user(email, account, role).second;
  }
  std::vector<std::string> upload_args(std::vector<std::string> extra) {
    std::vector<std::string> argv = {FLEXMARKET_BINARY, "meter", "upload", "--meter-key", key, "--server",
                                     "http://127.0.0.1:" + std::to_string(server->port()), "--token", meter_token};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  std::int64_t stored(const std::string& sql) {
    auto d = store::Database::open(db.url, 1);
    return d->acquire()->query(sql)[0].int64(0);
  }
  // The grid sensor's values from `start`, one per 15 minutes.
  json values(Instant start, std::size_t count) {
    const auto end = start + std::chrono::minutes(15) * static_cast<int>(count);
    return get("/api/v1/sensors/" + std::to_string(sensor) + "/data?start=" + format_iso8601(start) +
                   "&end=" + format_iso8601(end),
               token)["values"];
  }

  std::string create_user_password, token, meter_token, dir, key;
  std::int64_t site = 0, sensor = 0, meter_id = 0;
};

TEST_P(MeterUpload, ReadingsAreAcceptedOnceAndReadBackAsBeliefs) {
  const Instant start = day_start_days_ago(3);
  const json records = demand_records(96, start);
  const std::string input = dir + "/day.json";
  std::ofstream(input) << records.dump();
  auto r = run(upload_args({"--json", input, "--batch", "40"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 96, duplicate 0, rejected 0, spooled 0\n");
  json want = json::array();
  for (const auto& rec : records) want.push_back(rec["grid"]);
  EXPECT_EQ(values(start, 96), want);
  EXPECT_EQ(stored("SELECT COUNT(*) FROM meter_readings"), 96);

  // Again: nothing to send; the same file again is refused, nothing is stored twice.
  r = run(upload_args({}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 0, duplicate 0, rejected 0, spooled 0\n");
  r = run(upload_args({"--json", input}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 0, duplicate 0, rejected 96, spooled 0\n");
  EXPECT_NE(r.err.find("replayed_id"), std::string::npos) << r.err;
  EXPECT_EQ(stored("SELECT COUNT(*) FROM meter_readings"), 96);
  EXPECT_EQ(values(start, 96), want);

  // Sealed, with the meter id given: the platform opens the boxes.
  const json more = demand_records(4, start + std::chrono::hours(24), "sealed");
  std::ofstream(input) << more.dump();
  r = run(upload_args({"--json", input, "--seal", "--meter", std::to_string(meter_id)}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "accepted 4, duplicate 0, rejected 0, spooled 0\n");
  EXPECT_EQ(stored("SELECT COUNT(*) FROM meter_readings"), 100);
}

TEST_P(MeterUpload, SurvivesAServerRestartMidUploadWithNothingLostOrDoubled) {
  constexpr std::size_t kCount = 3000;
  const Instant start = day_start_days_ago(35);
  const json records = demand_records(kCount, start);
  const std::string input = dir + "/month.json";
  std::ofstream(input) << records.dump();

  // Stopped as soon as the first batches are in; the server is killed meanwhile.
  Process uploader(upload_args({"--json", input, "--batch", "100", "--retries", "2"}), {}, dir + "/out", dir + "/err");
  for (int i = 0; i < 6000 && read_file(dir + "/err").find("uploaded ") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  uploader.signal(SIGSTOP);
  ASSERT_NE(read_file(dir + "/err").find("uploaded "), std::string::npos) << read_file(dir + "/err");
  server->stop(SIGKILL);
  uploader.signal(SIGCONT);
  EXPECT_EQ(uploader.wait(), 3) << read_file(dir + "/out") << read_file(dir + "/err");
  const std::string first = read_file(dir + "/out");
  std::size_t accepted = 0, duplicate = 0, rejected = 0, spooled = 0;
  ASSERT_EQ(std::sscanf(first.c_str(), "accepted %zu, duplicate %zu, rejected %zu, spooled %zu", &accepted, &duplicate,
                        &rejected, &spooled),
            4)
      << first;
  EXPECT_GT(accepted, 0u);
  EXPECT_LT(accepted, kCount);
  EXPECT_EQ(rejected, 0u);
  EXPECT_EQ(accepted + spooled, kCount);

  // The same database, a new server (on another port); the next run sends the spool.
  server = std::make_unique<ServerProcess>(db);
  http = server->client();
  auto r = run(upload_args({"--batch", "100"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::size_t accepted2 = 0, duplicate2 = 0, rejected2 = 0, spooled2 = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "accepted %zu, duplicate %zu, rejected %zu, spooled %zu", &accepted2,
                        &duplicate2, &rejected2, &spooled2),
            4)
      << r.out;
  EXPECT_EQ(rejected2, 0u);
  EXPECT_EQ(spooled2, 0u);
  EXPECT_EQ(accepted2 + duplicate2, spooled);  // a batch whose answer died with the server is a duplicate

  EXPECT_EQ(stored("SELECT COUNT(*) FROM meter_readings"), static_cast<std::int64_t>(kCount));
  EXPECT_EQ(stored("SELECT COUNT(DISTINCT record_id) FROM meter_readings"), static_cast<std::int64_t>(kCount));
  json want = json::array();
  for (const auto& rec : records) want.push_back(rec["grid"]);
  EXPECT_EQ(values(start, kCount), want);
}

FLEXMARKET_ON_BOTH_BACKENDS(MeterUpload);

}  // namespace
}  // namespace flexmarket::testing
