#pragma once
// One exception type for every failure the user can cause (bad files, bad
// options). The CLI prints what() as a single line and exits non-zero, so
// messages name the file and the problem and carry no trailing newline.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace llmq {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A problem with a specific file: "path: problem".
inline Error file_error(const std::string& path, const std::string& problem) {
  return Error(path + ": " + problem);
}

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace llmq
