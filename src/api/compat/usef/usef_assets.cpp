// v2.0's asset routes (BVP §3.6): not served yet.
#include "api/compat/usef/usef_common.hpp"

namespace flexmarket::api::compat::usef {

void register_assets(httplib::Server&, const std::string&, services::Platform&, const std::string&) {}

}  // namespace flexmarket::api::compat::usef
