#pragma once
// The balancing valorisation platform's USEF-style message API (BVP §3 in the reference
// inventory), served under /compat/usef/api over flexmarket's services. This layer only
// translates messages (types, singular/plural keys, groups, entity addresses, horizons,
// MW) and answers in the seed's response catalogue (BVP §3.4); every rule is the
// services'. docs/compat-usef.md lists what is served so far and what differs.
#include <string>

#include <httplib.h>

#include "services/platform.hpp"

namespace flexmarket::api::compat::usef {

// Registers the routes under `prefix` ("/compat/usef/api").
void register_routes(httplib::Server& server, const std::string& prefix, services::Platform& p);

}  // namespace flexmarket::api::compat::usef
