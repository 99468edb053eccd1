#include "core/config.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace flexmarket {
namespace {

TEST(Config, DefaultsNeedNoSetting) {
  Config c = load_config(std::vector<Settings>{});
  EXPECT_EQ(c.server_port, 8080);
  EXPECT_EQ(c.server_host, "127.0.0.1");
  EXPECT_EQ(c.auth_token_ttl, std::chrono::hours(24));
  EXPECT_EQ(c.effective_database_url(), "sqlite://var/flexmarket.db");
}

TEST(Config, FileThenEnvironmentThenFlags) {
  Settings file = settings_from_toml(R"(
[server]
port = 9000
host = "0.0.0.0"
[auth]
token_ttl = "2h"
[log]
level = "debug"
)", "test.toml");
  Settings env = settings_from_environment(
      {"PATH=/bin", "FLEXMARKET_SERVER_PORT=9100", "FLEXMARKET_LOG_LEVEL=warn", "OTHER_SERVER_PORT=1"});
  Settings flags = {{"server.port", "9200"}};

  Config file_only = load_config({file});
  EXPECT_EQ(file_only.server_port, 9000);
  EXPECT_EQ(file_only.auth_token_ttl, std::chrono::hours(2));

  Config all = load_config({file, env, flags});
  EXPECT_EQ(all.server_port, 9200);         // flag beats environment and file
  EXPECT_EQ(all.log_level, "warn");         // environment beats file
  EXPECT_EQ(all.server_host, "0.0.0.0");    // only the file sets it
  EXPECT_EQ(all.auth_token_ttl, std::chrono::hours(2));

  Config no_flags = load_config({file, env});
  EXPECT_EQ(no_flags.server_port, 9100);
}

TEST(Config, RejectsUnknownKeysAndBadValues) {
  try {
    settings_from_toml("[server]\nprot = 1\n", "typo.toml");
    FAIL() << "unknown key accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), "server.prot");
  }
  EXPECT_THROW(settings_from_toml("[server\n", "broken.toml"), Error);
  try {
    load_config({Settings{{"server.port", "eighty"}}});
    FAIL() << "bad port accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), "server.port");
  }
  EXPECT_THROW(load_config({Settings{{"log.format", "xml"}}}), Error);
  EXPECT_THROW(load_config({Settings{{"auth.token_ttl", "-5m"}}}), Error);
}

TEST(Config, Durations) {
  EXPECT_EQ(parse_duration_seconds("90"), std::chrono::seconds(90));
  EXPECT_EQ(parse_duration_seconds("15m"), std::chrono::seconds(900));
  EXPECT_EQ(parse_duration_seconds("7d"), std::chrono::seconds(7 * 86400));
  EXPECT_FALSE(parse_duration_seconds("soon"));
  EXPECT_FALSE(parse_duration_seconds("5 weeks"));
}

}  // namespace
}  // namespace flexmarket
