#include "util/user_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util/error.h"

namespace llmq {

namespace {

// Backtracking steps and nesting depth one match may take: names are short,
// so honest patterns use a few hundred steps; exponential ones hit this fast.
constexpr uint32_t kMatchLimit = 1'000'000;
constexpr uint32_t kDepthLimit = 10'000;

std::string message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

struct Scratch {
  pcre2_match_data* match = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  Scratch() {
    pcre2_set_match_limit(context, kMatchLimit);
    pcre2_set_depth_limit(context, kDepthLimit);
  }
  ~Scratch() {
    pcre2_match_context_free(context);
    pcre2_match_data_free(match);
  }
};

}  // namespace

UserRegex::UserRegex(const std::string& pattern) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &error, &offset, nullptr);
  if (!code) fail("bad regular expression '{}' (at offset {}: {})", pattern, offset, message(error));
  code_ = std::shared_ptr<void>(code, [](void* p) { pcre2_code_free(static_cast<pcre2_code*>(p)); });
}

bool UserRegex::search(std::string_view s) const {
  thread_local Scratch scratch;
  const int rc = pcre2_match(static_cast<const pcre2_code*>(code_.get()), reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(),
                             0, 0, scratch.match, scratch.context);
  if (rc >= 0) return true;
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  fail("regular expression '{}' gave up on '{}': {} (simplify the pattern)", pattern_, s, message(rc));
}

}  // namespace llmq
