#pragma once
// `flexmarket demo`: sets up the demo (users, sites, meter data, prices, a market with bots,
// a schedule) and serves it, telling a newcomer how to log in and what to look at.
#include <functional>

#include "core/config.hpp"
#include "services/platform.hpp"

namespace flexmarket::cli {

using ServeFn = std::function<int(services::Platform&, const std::function<void()>& on_start,
                                  const std::function<void()>& on_stop)>;

struct DemoOptions {
  bool fresh = false;  // drop every table and start a new demo
};

int run_demo(services::Platform& p, const Config& c, const DemoOptions& o, const ServeFn& serve);

}  // namespace flexmarket::cli
