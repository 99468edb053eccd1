#pragma once
// Named points where a crash test can kill the process (SIGKILL, as a power cut or the
// OOM killer would), to check that what was acknowledged survives and nothing is half
// done. FLEXMARKET_FAILPOINT=name kills at the first pass through `name`, name:N at the
// N-th. Unset (production), a failpoint costs one relaxed atomic load.
#include <string_view>

namespace flexmarket {

void failpoint(std::string_view name);

}  // namespace flexmarket
