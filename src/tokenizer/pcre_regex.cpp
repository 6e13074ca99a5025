#include "tokenizer/pcre_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace llmq {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

pcre2_code* as_code(void* p) { return static_cast<pcre2_code*>(p); }

}  // namespace

Pcre2Regex::Pcre2Regex(const std::string& pattern, bool literal) : pattern_(pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // PCRE2 refuses UCP together with LITERAL; a literal needs no classes anyway.
  const uint32_t options = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                   &error_code, &error_offset, nullptr);
  if (!code) {
    fail("regex /{}/ does not compile at offset {}: {}", pattern, error_offset, pcre2_message(error_code));
  }
  code_ = code;
  // JIT is an optimisation only: when unavailable, pcre2_match interprets.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
}

Pcre2Regex::~Pcre2Regex() { pcre2_code_free(as_code(code_)); }

namespace {

// Per-thread match state, shared by all patterns: byte-level pre-tokenizers
// match once per word, and allocating a JIT stack per call would dominate.
struct MatchScratch {
  pcre2_match_data* match = pcre2_match_data_create(16, nullptr);  // only group 0 is read
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  // Long whitespace runs against lookaheads can outgrow the 32 KiB default JIT stack.
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  MatchScratch() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchScratch() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(match);
  }
};

MatchScratch& match_scratch() {
  thread_local MatchScratch scratch;
  return scratch;
}

}  // namespace

void Pcre2Regex::for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const {
  MatchScratch& scratch = match_scratch();
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  while (offset <= text.size()) {
    // rc == 0 means "matched, but ovector too small for all groups": group 0 is still set.
    const int rc = pcre2_match(as_code(code_), subject, text.size(), offset, PCRE2_NO_UTF_CHECK, scratch.match,
                               scratch.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("regex /{}/ failed while matching: {}", pattern_, pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.match);
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (end > begin) {
      on_match(begin, end);
      offset = end;
    } else {
      // Empty match: step over one whole character so we never split one.
      if (begin >= text.size()) break;
      const size_t len = utf8::char_length(text, begin);
      offset = begin + (len ? len : 1);
    }
  }
}

std::vector<std::pair<size_t, size_t>> Pcre2Regex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  for_each_match(text, [&](size_t b, size_t e) { matches.emplace_back(b, e); });
  return matches;
}

}  // namespace llmq
