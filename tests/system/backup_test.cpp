// `db save` and `db load` on both backends: a save taken while a server writes holds every
// acknowledged reading and restores into a working platform; backups move between SQLite
// and PostgreSQL unchanged; a load never touches a database that has data (without
// --force) and refuses files that are not backups it can read.
#include <atomic>
#include <fstream>
#include <thread>

#include "core/time.hpp"
#include "store/backup.hpp"
#include "store/database.hpp"
#include "store/migrations.hpp"
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

using Table = std::vector<std::vector<store::Value>>;
using Dump = std::map<std::string, Table>;

// Rows in a fixed order: by each value's kind, then the value.
bool row_less(const std::vector<store::Value>& a, const std::vector<store::Value>& b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].index() != b[i].index()) return a[i].index() < b[i].index();
    if (auto x = std::get_if<std::int64_t>(&a[i]); x && *x != std::get<std::int64_t>(b[i])) {
      return *x < std::get<std::int64_t>(b[i]);
    }
    if (auto x = std::get_if<double>(&a[i]); x && *x != std::get<double>(b[i])) return *x < std::get<double>(b[i]);
    if (auto x = std::get_if<std::string>(&a[i]); x && *x != std::get<std::string>(b[i])) {
      return *x < std::get<std::string>(b[i]);
    }
  }
  return a.size() < b.size();
}

// Every row of every table, sorted: equal dumps mean equal contents, whatever the backend.
Dump dump(const TestDatabase& tdb) {
  auto db = store::Database::open(tdb.url, 1);
  auto c = db->acquire();
  const char* list = tdb.backend == DbBackend::sqlite
                         ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                         : "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition";
  Dump out;
  for (const auto& row : c->query(list).rows) {
    const std::string table = store::Row(row).text(0);
    auto rows = c->query("SELECT * FROM \"" + table + "\"").rows;
    std::sort(rows.begin(), rows.end(), row_less);
    out[table] = std::move(rows);
  }
  return out;
}

std::map<std::string, std::size_t> counts(const Dump& d) {
  std::map<std::string, std::size_t> out;
  for (const auto& [table, rows] : d) out[table] = rows.size();
  return out;
}

std::string temp_file(const std::string& name) { return make_temp_dir("fm-backup") + "/" + name; }

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

constexpr const char* kAdmin = "admin@example.com";
constexpr const char* kAdminPassword = "admin-password-1";

void create_admin(const TestDatabase& db, const std::string& email = kAdmin) {
  auto r = cli(db, {"user", "create", "--email", email, "--account", "Operations", "--role", "admin", "--password-stdin"},
               std::string(kAdminPassword) + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

json call(httplib::Client& http, const std::string& method, const std::string& path, const std::string& token,
          const json& body, int expect) {
  auto r = method == "POST" ? http.Post(path, bearer(token), body.dump(), "application/json")
                            : http.Patch(path, bearer(token), body.dump(), "application/json");
  EXPECT_TRUE(r) << path;
  if (!r) return nullptr;
  EXPECT_EQ(r->status, expect) << method << " " << path << " " << r->body;
  return body_of(r);
}

// What a platform holds after a little use: two accounts, users, a token, sites (one the
// child of a later one), sensors with readings.
struct Content {
  std::string participant_password;
  std::int64_t sensor = 0;
  std::int64_t max_asset = 0;
};

Content fill(const TestDatabase& db, int readings) {
  Content out;
  ServerProcess server(db);
  auto http = server.client();
  const std::string admin = login(*http, kAdmin, kAdminPassword);
  auto u = call(*http, "POST", "/api/v1/users", admin,
                {{"email", "abri@example.com"}, {"account", "ABRI_BEMS"}, {"roles", {"participant"}}}, 201);
  out.participant_password = u["password"];
  const std::string abri = login(*http, "abri@example.com", out.participant_password);
  const std::int64_t first = call(*http, "POST", "/api/v1/assets", abri,
                                  {{"name", "lab"}, {"type", "site"}, {"timezone", "Asia/Taipei"}}, 201)["id"];
  const std::int64_t second = call(*http, "POST", "/api/v1/assets", abri,
                                   {{"name", "campus"}, {"type", "site"}, {"timezone", "Asia/Taipei"}}, 201)["id"];
  // A row pointing at one created after it: the load must not trip over the order.
  call(*http, "PATCH", "/api/v1/assets/" + std::to_string(first), abri, {{"parent_id", second}}, 200);
  const std::int64_t pv = call(*http, "POST", "/api/v1/assets", abri,
                               {{"name", "roof pv"}, {"type", "pv"}, {"parent_id", second}, {"capacity_kw", 80.5}},
                               201)["id"];
  out.max_asset = std::max({first, second, pv});
  out.sensor = call(*http, "POST", "/api/v1/sensors", abri,
                    {{"name", "net load"}, {"unit", "kW"}, {"event_resolution", "PT15M"}, {"asset_id", second}},
                    201)["id"];
  std::vector<double> values;
  for (int i = 0; i < readings; ++i) values.push_back(i * 0.1 - 3.7);
  call(*http, "POST", "/api/v1/sensors/" + std::to_string(out.sensor) + "/data", abri,
       {{"start", "2025-01-01T00:00:00Z"}, {"values", values}}, 200);
  EXPECT_EQ(server.stop(), 0);
  return out;
}

class Backup : public ::testing::TestWithParam<DbBackend> {
 protected:
  void TearDown() override {
    for (const auto& d : dirs) std::filesystem::remove_all(d);
  }
  TestDatabase database(DbBackend backend) {
    auto db = fresh_database(backend);
    dirs.push_back(db.var_dir);
    return db;
  }
  std::string file(const std::string& name) {
    const std::string path = temp_file(name);
    dirs.push_back(std::filesystem::path(path).parent_path().string());
    return path;
  }
  std::vector<std::string> dirs;
};

TEST_P(Backup, SaveWhileServingRestoresEveryAcknowledgedReading) {
  auto src = database(GetParam());
  create_admin(src);
  const auto content = fill(src, 20000);
  const std::string data = "/api/v1/sensors/" + std::to_string(content.sensor) + "/data";

  ServerProcess server(src);
  auto http = server.client();
  const std::string abri = login(*http, "abri@example.com", content.participant_password);
  // One reading after another, each acknowledged before the next is sent.
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::thread writer([&] {
    auto c = server.client();
    for (int i = 0; !stop; ++i) {
      auto r = c->Post(data, bearer(abri),
                       json{{"start", format_iso8601(parse_iso8601("2027-01-01T00:00:00Z").value() +
                                                     std::chrono::minutes(15 * i))},
                            {"values", {i}}}
                           .dump(),
                       "application/json");
      if (!r || r->status != 200) {
        ADD_FAILURE() << "reading " << i << ": " << (r ? r->body : "no response");
        return;
      }
      acked = i + 1;
    }
  });
  while (acked < 20) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int before = acked;
  const std::string backup = file("flexmarket.db");
  auto saved = cli(src, {"db", "save", backup});
  const int after_save = acked;
  // The writer goes on a little after the save, so the save ran while it wrote.
  while (acked < after_save + 5) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  writer.join();
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  EXPECT_NE(saved.out.find("saved "), std::string::npos) << saved.out;
  EXPECT_NE(saved.out.find("rows/s"), std::string::npos) << saved.out;
  EXPECT_EQ(server.stop(), 0);

  auto dst = database(GetParam());
  auto loaded = cli(dst, {"db", "load", backup});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.out << loaded.err;
  EXPECT_NE(loaded.out.find("loaded "), std::string::npos) << loaded.out;

  ServerProcess restored(dst);
  auto h = restored.client();
  const std::string admin = login(*h, kAdmin, kAdminPassword);
  const std::string participant = login(*h, "abri@example.com", content.participant_password);
  ASSERT_FALSE(participant.empty());
  // Every reading acknowledged before the save started.
  auto got = h->Get(data + "?start=2027-01-01T00:00:00Z&end=" +
                        format_iso8601(parse_iso8601("2027-01-01T00:00:00Z").value() + std::chrono::minutes(15 * before)),
                    bearer(participant));
  ASSERT_TRUE(got && got->status == 200) << (got ? got->body : "no response");
  const auto values = body_of(got)["values"];
  ASSERT_EQ(values.size(), static_cast<std::size_t>(before));
  for (int i = 0; i < before; ++i) EXPECT_EQ(values[static_cast<std::size_t>(i)], json(i)) << "reading " << i;
  // And the history before it.
  auto old = h->Get(data + "?start=2025-01-01T00:00:00Z&end=2025-01-01T01:00:00Z", bearer(participant));
  ASSERT_TRUE(old && old->status == 200);
  EXPECT_EQ(body_of(old)["values"], json::array({-3.7, -3.6, -3.5, -3.4}));
  // Ids continue after the restored ones.
  const std::int64_t next = call(*h, "POST", "/api/v1/assets", participant,
                                 {{"name", "new site"}, {"type", "site"}, {"timezone", "Asia/Taipei"}}, 201)["id"];
  EXPECT_GT(next, content.max_asset);
  call(*h, "POST", "/api/v1/users", admin,
       {{"email", "ncku@example.com"}, {"account", "NCKU_BEMS"}, {"roles", {"participant"}}}, 201);
}

TEST_P(Backup, LoadRefusesADatabaseWithDataUnlessForced) {
  auto src = database(GetParam());
  create_admin(src);
  const std::string backup = file("flexmarket.db");
  auto saved = cli(src, {"db", "save", backup});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;

  auto dst = database(GetParam());
  create_admin(dst, "someone@example.com");
  const auto before = dump(dst);
  auto refused = cli(dst, {"db", "load", backup});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("is not empty"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  EXPECT_EQ(dump(dst), before);

  auto forced = cli(dst, {"db", "load", backup, "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  EXPECT_EQ(dump(dst), dump(src));
}

TEST_P(Backup, LoadRefusesFilesThatAreNotBackupsItCanRead) {
  auto dst = database(GetParam());
  auto refused = [&](const std::string& path, const std::string& why) {
    auto r = cli(dst, {"db", "load", path});
    EXPECT_EQ(r.exit_code, 1) << path;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  };
  refused(file("missing.db"), "no backup at");

  const std::string garbage = file("garbage.db");
  std::ofstream(garbage) << std::string(8192, 'x');
  refused(garbage, "not a flexmarket backup: not an SQLite database");

  const std::string other = file("other.db");
  {
    auto db = store::Database::open("sqlite://" + other, 1);
    db->acquire()->execute_script("CREATE TABLE notes (x TEXT)");
  }
  refused(other, "no schema_migrations table");

  // A backup from a flexmarket that knows a migration this one does not.
  auto src = database(DbBackend::sqlite);
  create_admin(src);
  const std::string newer = file("newer.db");
  ASSERT_EQ(cli(src, {"db", "save", newer}).exit_code, 0);
  {
    auto db = store::Database::open("sqlite://" + newer, 1);
    db->acquire()->query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)");
  }
  refused(newer, "newer than this flexmarket knows");

  // Nothing reached the database.
  auto db = store::Database::open(dst.url, 1);
  EXPECT_TRUE(store::tables_with_rows(*db).empty());
}

TEST_P(Backup, AnOlderBackupIsUpgradedInACopy) {
  const std::string old = file("old.db");
  {
    auto db = store::Database::open("sqlite://" + old, 1);
    store::upgrade(*db, store::migrations().back().version - 1);
  }
  const auto bytes = file_bytes(old);
  auto dst = database(GetParam());
  auto r = cli(dst, {"db", "load", old});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("upgraded temporary copy"), std::string::npos) << r.err;
  EXPECT_EQ(file_bytes(old), bytes);
  auto db = store::Database::open(dst.url, 1);
  EXPECT_EQ(store::applied_versions(*db).size(), store::migrations().size());
}

FLEXMARKET_ON_BOTH_BACKENDS(Backup);

// A backup is an SQLite file whatever the backend: SQLite -> PostgreSQL -> SQLite keeps
// every row of every table, and the PostgreSQL copy keeps working.
TEST(BackupAcrossBackends, SqliteToPostgresAndBack) {
  struct Dirs {
    std::vector<std::string> list;
    ~Dirs() {
      for (const auto& d : list) std::filesystem::remove_all(d);
    }
  } dirs;
  auto sqlite = fresh_database(DbBackend::sqlite);
  auto postgres = fresh_database(DbBackend::postgres);
  auto sqlite_again = fresh_database(DbBackend::sqlite);
  dirs.list = {sqlite.var_dir, postgres.var_dir, sqlite_again.var_dir};
  create_admin(sqlite);
  const auto content = fill(sqlite, 5000);
  const std::string dir = make_temp_dir("fm-backup");
  dirs.list.push_back(dir);

  ASSERT_EQ(cli(sqlite, {"db", "save", dir + "/from-sqlite.db"}).exit_code, 0);
  auto loaded = cli(postgres, {"db", "load", dir + "/from-sqlite.db"});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.out << loaded.err;
  const auto original = dump(sqlite);
  const auto moved = dump(postgres);
  EXPECT_EQ(counts(moved), counts(original));
  EXPECT_EQ(moved.at("beliefs").size(), 5000u);
  EXPECT_EQ(moved.at("users"), original.at("users"));
  EXPECT_EQ(moved.at("assets"), original.at("assets"));
  EXPECT_EQ(moved, original);

  {
    // The PostgreSQL copy serves: logins work and new ids follow the copied ones.
    ServerProcess server(postgres);
    auto http = server.client();
    const std::string abri = login(*http, "abri@example.com", content.participant_password);
    const std::int64_t next = call(*http, "POST", "/api/v1/assets", abri,
                                   {{"name", "moved site"}, {"type", "site"}, {"timezone", "Asia/Taipei"}}, 201)["id"];
    EXPECT_GT(next, content.max_asset);
    EXPECT_EQ(server.stop(), 0);
  }

  auto saved = cli(postgres, {"db", "save", dir + "/from-postgres.db"});
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  auto back = cli(sqlite_again, {"db", "load", dir + "/from-postgres.db"});
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  const auto returned = dump(sqlite_again);
  const auto served = dump(postgres);
  EXPECT_EQ(returned.at("assets").size(), original.at("assets").size() + 1);
  EXPECT_EQ(returned, served);
}

}  // namespace
}  // namespace flexmarket::testing
