#pragma once
// What the USEF API's endpoints share: the response catalogue (BVP §3.4) as thrown
// answers, USEF roles, message parsing (types, singular/plural keys, groups, periods,
// horizons), entity addresses and the endpoint wrapper. Translation only.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "services/platform.hpp"
#include "timeseries/duration.hpp"

namespace flexmarket::api::compat::usef {

using json = nlohmann::json;
using services::Principal;

// An answer from the seed's response catalogue (BVP §3.4), thrown from anywhere.
struct Answer {
  int status;
  json body;
};

Answer rejected(const std::string& status, const std::string& message, int http = 400, const char* key = "result");
Answer invalid_domain(const std::string& more = {});
Answer unrecognized_connection_group();
Answer ptus_incomplete(const std::string& more = {});
Answer invalid_period(const std::string& more = {});
Answer invalid_horizon(const std::string& more = {});
Answer invalid_datetime(const std::string& more = {});
Answer invalid_unit(const std::string& what, const std::vector<std::string>& units);
json processed();

// USEF roles of a flexmarket user (docs/compat-usef.md).
std::vector<std::string> usef_roles(const Principal& who);
// flexmarket roles whose users count as a USEF role (for `source`); empty when unknown.
std::vector<Role> roles_of_usef_role(const std::string& usef_role);
extern const std::vector<std::string> kAllRoles;
// 403 INVALID_SENDER unless the caller holds one of `allowed` (admins hold all).
void require_usef_role(const Principal& who, const std::vector<std::string>& allowed);

// A request message: the JSON body of a POST (whatever its content type), or the query of
// a GET with each value read as JSON where it is JSON (lists flattened, one value unwrapped).
json message_of(const httplib::Request& req);
void check_type(const json& m, const std::string& expected);
// `name` or its plural, a scalar or a list, as a list; empty when neither is there.
std::vector<json> either(const json& m, const std::string& name);

struct Group {
  std::vector<json> items;  // connections, markets or sensors
  std::vector<json> values;
};
// The message's groups of `item`s ("connection", "market", "sensor"): "groups", or the
// top level as one group.
std::vector<Group> groups_of(const json& m, bool with_values, const std::string& item = "connection");

// The asset id a connection address names: ea1.<naming authority>:<owner>:<asset>, or the
// simulation notation <owner>:<asset> or <asset> (BVP §3.2); nullopt when unparseable.
std::optional<std::int64_t> asset_of_address(const std::string& ea);

struct Ctx {
  const httplib::Request& req;
  services::Platform& p;
  Principal who;
  std::string naming_authority;

  std::string address_of(const store::AssetRecord& a) const;
  // The power sensor of a connection the caller may see; UNRECOGNIZED_CONNECTION_GROUP
  // for one it may not, INVALID_DOMAIN for an address that is not one.
  std::pair<store::AssetRecord, std::int64_t> connection(const json& address) const;
};

struct Period {
  Instant start;
  timeseries::Duration duration;
  Instant end;
};
Period period_of(const json& m);
// An ISO 8601 instant with an explicit offset; INVALID_DATETIME / INVALID_TIMEZONE
// (with `what` naming it in the messages) otherwise.
Instant datetime_of(const json& m, const std::string& key, const std::string& what);

struct Horizon {
  timeseries::Duration value;  // signed through `negative`
  bool negative = false, rolling = false;
  std::chrono::microseconds micros() const {
    const auto us = value.fixed + std::chrono::hours(24 * value.days);
    return negative ? -us : us;
  }
};
std::optional<Horizon> horizon_of(const json& m);

double number_of(const json& v, bool target = false);

// An instant as the seed's REST and ops answers wrote it: +00:00 rather than Z.
std::string seed_time(Instant t);

// A service's refusal as the catalogue entry closest to what it refused.
Answer from_error(const Error& e);

// Groups with identical values merged, and the result flattened as the seed did
// (groups_to_dict): one item, one group of several, or "groups".
json grouped(const std::vector<std::pair<std::string, json>>& by_address, const std::string& item = "connection");

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
// A USEF endpoint: the response type on every answer, token (401), USEF role (403), then
// `fn`; failures as catalogue entries, never an exception's text.
Handler endpoint(services::Platform& p, const std::string& naming_authority, const std::string& name,
                 std::vector<std::string> roles, std::function<json(Ctx&)> fn);
void reply(httplib::Response& res, int status, json body, const std::string& type);

// The parts of the API, registered by register_routes under each version's prefix.
void register_market_data(httplib::Server& server, const std::string& version_prefix, int minor,
                          services::Platform& p, const std::string& naming_authority);
void register_udi(httplib::Server& server, const std::string& version_prefix, int minor, services::Platform& p,
                  const std::string& naming_authority);
void register_assets(httplib::Server& server, const std::string& version_prefix, services::Platform& p,
                     const std::string& naming_authority);
void register_ops(httplib::Server& server, const std::string& prefix, services::Platform& p);

}  // namespace flexmarket::api::compat::usef
