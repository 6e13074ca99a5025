#include "util/byte_size.h"

#include <cctype>
#include <map>
#include <cmath>
#include <stdexcept>

#include "util/error.h"

namespace llmq {

uint64_t parse_byte_size(const std::string& s, const std::string& option) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  std::string unit = s.substr(i);
  unit.erase(0, unit.find_first_not_of(' '));
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(s.substr(0, i), &used);
    if (used != i) throw std::invalid_argument("");
  } catch (const std::exception&) {
    fail("{}: '{}' is not a size (e.g. 3.0GB, 2.5GiB, 800MB or a byte count)", option, s);
  }
  std::string u;
  for (char c : unit) u += char(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, double> kUnits = {
      {"", 1},         {"b", 1},          {"kb", 1e3},       {"mb", 1e6},           {"gb", 1e9},
      {"tb", 1e12},    {"k", 1e3},        {"m", 1e6},        {"g", 1e9},            {"kib", 1024.0},
      {"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0}};
  auto it = kUnits.find(u);
  if (it == kUnits.end()) fail("{}: unknown size unit '{}' in '{}' (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", option, unit, s);
  const double bytes = v * it->second;
  if (!(bytes >= 1) || bytes > 1.8e19) fail("{}: '{}' is not a usable size", option, s);
  return uint64_t(std::floor(bytes));
}

}  // namespace llmq
