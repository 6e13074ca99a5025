#include "tokenizer/added_tokens.h"

#include <algorithm>


namespace llmq {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Word characters for single_word: ASCII alphanumerics, '_' and any non-ASCII
// byte (letters of other scripts); close enough to Unicode \w for this check.
bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || u == '_' || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) {
  for (auto& t : tokens) {
    if (!t.content.empty()) tokens_.push_back(std::move(t));
  }
  for (uint32_t i = 0; i < tokens_.size(); ++i) {
    by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& bucket : by_first_byte_) {
    std::stable_sort(bucket.begin(), bucket.end(),
                     [&](uint32_t a, uint32_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
  }
}

std::vector<TextSegment> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<TextSegment> segments;
  size_t plain_start = 0;  // start of the plain text not yet emitted
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* found = nullptr;
    for (uint32_t index : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      const AddedToken& t = tokens_[index];
      if (text.compare(pos, t.content.size(), t.content) != 0) continue;
      if (t.single_word) {
        const size_t end = pos + t.content.size();
        const bool glued_left = pos > 0 && is_word_byte(text[pos - 1]);
        const bool glued_right = end < text.size() && is_word_byte(text[end]);
        if (glued_left || glued_right) continue;
      }
      found = &t;
      break;
    }
    if (!found) {
      ++pos;
      continue;
    }
    size_t begin = pos;
    size_t end = pos + found->content.size();
    if (found->lstrip) {
      while (begin > plain_start && is_space(text[begin - 1])) --begin;
    }
    if (found->rstrip) {
      while (end < text.size() && is_space(text[end])) ++end;
    }
    if (begin > plain_start) segments.push_back({text.substr(plain_start, begin - plain_start), std::nullopt, plain_start});
    segments.push_back({text.substr(begin, end - begin), found->id, begin});
    plain_start = pos = end;
  }
  if (plain_start < text.size()) segments.push_back({text.substr(plain_start), std::nullopt, plain_start});
  return segments;
}

}  // namespace llmq
