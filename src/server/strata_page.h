// server/strata_page.h: the /strata page: one self-contained HTML document (inline style and script, no
// external assets) that polls /api/strata/stats every second and draws each loaded model.
#pragma once

#include <string_view>

namespace strata::server {

extern const std::string_view kStrataPageHtml;

}  // namespace strata::server
