// scan/engine_info.h — versions of the scanning engines linked into scan/.
#pragma once

#include <string>

namespace mx::scan {

std::string hyperscan_version();  // e.g. "5.4.0 2023-01-01"
std::string clamav_version();     // e.g. "1.4.6"

}  // namespace mx::scan
