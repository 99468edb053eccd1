// The ops endpoints (BVP §3.6): ping.
#include "api/compat/usef/usef_common.hpp"

namespace flexmarket::api::compat::usef {

void register_ops(httplib::Server& server, const std::string& prefix, services::Platform&) {
  server.Get(prefix + "/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"message":"ok"})", "application/json");
  });
}

}  // namespace flexmarket::api::compat::usef
