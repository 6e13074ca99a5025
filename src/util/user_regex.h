#pragma once
// Regular expressions written by users (--ignore, --tensor-type, profile
// rules, GPTQ "dynamic" rules of a checkpoint): PCRE2 with a bound on the
// work one match may do, so that a catastrophically backtracking pattern ends
// with an error instead of running for minutes (std::regex has no bound).
// Copies share the compiled pattern; matching is thread-safe.
#include <memory>
#include <string>
#include <string_view>

namespace llmq {

class UserRegex {
 public:
  // Throws llmq::Error "bad regular expression 'P' (at offset N: MESSAGE)".
  explicit UserRegex(const std::string& pattern);

  // Whether the pattern matches anywhere in `s` (std::regex_search's sense).
  // Throws llmq::Error when the match exceeds the work bound.
  bool search(std::string_view s) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::shared_ptr<void> code_;  // pcre2_code_8, opaque to callers
};

}  // namespace llmq
