#pragma once
// The energy trading platform's own API (ETP §3 in the reference inventory), served over
// flexmarket's services so that its BEMS clients, bid simulators and web frontend work
// unchanged: same paths, field names, status codes, time formats (local time in the
// market's timezone), Chinese status literals and Socket.IO push. This layer only
// translates; every rule is the services' (docs/compat-etp.md lists what differs from
// the seed and why).
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <httplib.h>

#include "api/compat/etp/jws.hpp"
#include "api/compat/etp/socket_io.hpp"
#include "services/platform.hpp"

namespace flexmarket::api::compat::etp {

class Surface {
 public:
  explicit Surface(services::Platform& p);
  ~Surface();
  // Registers every route under `prefix` ("/compat/etp" on the main port, "" on
  // compat.etp_port).
  void register_routes(httplib::Server& server, const std::string& prefix);
  SocketIoHub& socket_io() { return *hub_; }
  void stop();

  // For tests: the bearer a client of the seed would hold for this flexmarket token.
  std::string bearer_for(const std::string& token, std::int64_t iat, std::int64_t exp) const;

 private:
  services::Platform& p_;
  JwsKey key_{};
  // The caller a bearer names, or nullopt (bad, expired or revoked).
  std::function<std::optional<services::Principal>(const std::string&)> authenticate_;
  std::unique_ptr<SocketIoHub> hub_;
};

}  // namespace flexmarket::api::compat::etp
