#pragma once
// RAII wrapper around a compiled PCRE2 pattern in Unicode mode (UTF + UCP, so
// \p{L}, \p{N} and \s mean what they mean in the Rust/Oniguruma regexes that
// tokenizer.json files are written for). JIT-compiled when the platform allows.
// Compiled patterns are immutable and safe to use from several threads.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmq {

class Pcre2Regex {
 public:
  // literal=true matches pattern as a plain string. Throws llmq::Error with
  // PCRE2's message if the pattern does not compile.
  explicit Pcre2Regex(const std::string& pattern, bool literal = false);
  ~Pcre2Regex();
  Pcre2Regex(const Pcre2Regex&) = delete;
  Pcre2Regex& operator=(const Pcre2Regex&) = delete;

  // Calls on_match(begin, end) for every non-empty, non-overlapping match,
  // left to right (byte offsets). text must be valid UTF-8 (it is not
  // checked again here).
  void for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const;

  // The same matches collected.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*, kept opaque so callers need no PCRE2 headers
};

}  // namespace llmq
