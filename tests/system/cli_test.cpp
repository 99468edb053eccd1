// The flexmarket command line: migrations, reset, users, demo data, configuration.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class Cli : public ::testing::TestWithParam<DbBackend> {
 protected:
  void SetUp() override { db = fresh_database(GetParam()); }
  void TearDown() override { std::filesystem::remove_all(db.var_dir); }
  TestDatabase db;
};

TEST_P(Cli, UpgradeTwiceLeavesTheSameSchema) {
  auto first = cli(db, {"db", "upgrade"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("applied migration 1"), std::string::npos) << first.out;
  const auto schema1 = cli(db, {"db", "schema"});
  ASSERT_EQ(schema1.exit_code, 0) << schema1.err;
  EXPECT_NE(schema1.out.find("api_tokens"), std::string::npos);
  EXPECT_NE(schema1.out.find("users"), std::string::npos);

  auto second = cli(db, {"db", "upgrade"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("up to date"), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find("applied migration"), std::string::npos);
  EXPECT_EQ(cli(db, {"db", "schema"}).out, schema1.out);

  auto status = cli(db, {"db", "status"});
  EXPECT_NE(status.out.find("accounts_users_tokens"), std::string::npos);
  EXPECT_EQ(status.out.find("pending"), std::string::npos);
}

TEST_P(Cli, ResetAsksFirstAndChangesNothingWithoutYes) {
  ASSERT_EQ(cli(db, {"user", "create", "--email", "keep@example.com", "--account", "A", "--role", "participant"}).exit_code, 0);
  auto refused = cli(db, {"db", "reset"}, "no\n");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.out.find("Type 'yes'"), std::string::npos);
  EXPECT_NE(cli(db, {"user", "list"}).out.find("keep@example.com"), std::string::npos);
  auto no_stdin = cli(db, {"db", "reset"});
  EXPECT_EQ(no_stdin.exit_code, 1);
  EXPECT_NE(cli(db, {"user", "list"}).out.find("keep@example.com"), std::string::npos);

  auto done = cli(db, {"db", "reset", "--yes"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(cli(db, {"user", "list"}).out.find("keep@example.com"), std::string::npos);
  // The schema is back at the latest version, ready to use.
  EXPECT_EQ(cli(db, {"db", "status"}).out.find("pending"), std::string::npos);
}

TEST_P(Cli, UserCreateValidatesAndPrintsAGeneratedPasswordOnce) {
  auto ok = cli(db, {"user", "create", "--email", "ops@example.com", "--account", "Grid Ops", "--role", "operator",
                     "--role", "aggregator"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("(new account)"), std::string::npos);
  const auto at = ok.out.find("password: ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(ok.out.substr(at + 10, 20).size(), 20u);
  EXPECT_NE(cli(db, {"user", "list"}).out.find("operator,aggregator"), std::string::npos);

  auto dup = cli(db, {"user", "create", "--email", "OPS@example.com", "--account", "X", "--role", "meter"});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos);
  auto bad_role = cli(db, {"user", "create", "--email", "z@example.com", "--account", "X", "--role", "king"});
  EXPECT_EQ(bad_role.exit_code, 1);
  EXPECT_NE(bad_role.err.find("unknown role"), std::string::npos);
}

TEST_P(Cli, SecretsAreGeneratedOwnerOnly) {
  const std::string fresh_var = db.var_dir + "/new-var";
  auto r = run({FLEXMARKET_BINARY, "user", "create", "--email", "b@example.com", "--account", "B", "--role", "meter",
                "--database", db.url, "--var-dir", fresh_var});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat var_st {};
  ASSERT_EQ(stat(fresh_var.c_str(), &var_st), 0);
  EXPECT_EQ(var_st.st_mode & 0777, 0700u);  // a new var/ is its owner's only
  ASSERT_EQ(cli(db, {"user", "create", "--email", "a@example.com", "--account", "A", "--role", "meter"}).exit_code, 0);
  struct stat st {};
  ASSERT_EQ(stat((db.var_dir + "/secrets/token_pepper").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_P(Cli, DemoSeedsUsersOnceAndServes) {
  const std::string dir = make_temp_dir("fm-demo");
  Process demo({FLEXMARKET_BINARY, "demo", "--database", db.url, "--var-dir", db.var_dir, "--port", "0"}, {},
               dir + "/out", dir + "/err");
  std::string out;
  for (int i = 0; i < 200 && out.find("== flexmarket demo") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    out = read_file(dir + "/out");
  }
  demo.signal(SIGTERM);
  EXPECT_EQ(demo.wait(), 0);
  EXPECT_NE(out.find("admin@flexmarket.local"), std::string::npos) << out;
  EXPECT_NE(out.find("abri@flexmarket.local"), std::string::npos) << out;
  auto list = cli(db, {"user", "list"});
  EXPECT_NE(list.out.find("NCKU_BEMS"), std::string::npos) << list.out;

  // A second run creates nothing, continues the market clock and prints the same logins,
  // kept owner-only beside the database.
  Process again({FLEXMARKET_BINARY, "demo", "--database", db.url, "--var-dir", db.var_dir, "--port", "0"}, {},
                dir + "/out2", dir + "/err2");
  std::string out2;
  for (int i = 0; i < 200 && out2.find("== flexmarket demo") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    out2 = read_file(dir + "/out2");
  }
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(), 0);
  EXPECT_NE(out2.find("The market clock continues from"), std::string::npos) << out2;
  const auto login_line = [](const std::string& text) {
    const auto at = text.find("  admin@flexmarket.local  ");
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  EXPECT_FALSE(login_line(out).empty()) << out;
  EXPECT_EQ(login_line(out2), login_line(out)) << out2;
  const auto perms = std::filesystem::status(db.var_dir + "/demo-logins.txt").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::remove_all(dir);
}

TEST_P(Cli, ConfigFileEnvironmentAndFlagsInThatOrder) {
  const std::string file = db.var_dir + "/flexmarket.toml";
  {
    std::ofstream(file) << "[log]\nformat = \"text\"\nlevel = \"info\"\n[server]\nport = 1\n";
  }
  ASSERT_EQ(cli(db, {"db", "upgrade"}).exit_code, 0);
  // The file asks for text logs and port 1; the environment overrides the port; the flag overrides the environment.
  const std::string dir = make_temp_dir("fm-cfg");
  Process p({FLEXMARKET_BINARY, "serve", "--config", file, "--database", db.url, "--var-dir", db.var_dir, "--port", "0"},
            {{"FLEXMARKET_SERVER_PORT", "2"}}, dir + "/out", dir + "/err");
  std::string err;
  for (int i = 0; i < 200 && err.find("listening") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    err = read_file(dir + "/err");
  }
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 0);
  EXPECT_NE(err.find(" info listening "), std::string::npos) << err;  // text format, from the file
  EXPECT_NE(err.find("url=http://127.0.0.1:"), std::string::npos) << err;
  EXPECT_EQ(err.find("127.0.0.1:1 "), std::string::npos);
  EXPECT_EQ(err.find("127.0.0.1:2 "), std::string::npos);

  auto bad = run({FLEXMARKET_BINARY, "db", "status", "--database", db.url, "--var-dir", db.var_dir},
                 {{"FLEXMARKET_LOG_FORMAT", "xml"}});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("log.format"), std::string::npos) << bad.err;
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, Cli, ::testing::Values(DbBackend::sqlite, DbBackend::postgres), backend_param_name);

}  // namespace
}  // namespace flexmarket::testing
