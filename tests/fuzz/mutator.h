#pragma once
// Byte-level mutations of fuzz inputs, shared by CI's deterministic fuzz
// (tests/fuzz/deterministic_fuzz_test.cpp) and the long driver (llmq-fuzz).
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace llmq::fuzz {

// Byte-level mutations in the spirit of AFL's havoc stage: flips, interesting
// integers written over length and count fields, JSON punctuation and digit
// runs for the text formats, range deletion and duplication, truncation, and
// splices of two inputs.
class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::string mutate(const std::string& base, const std::string& other, size_t prefix) {
    std::string s = base;
    const int rounds = 1 + int(rng_() % 4);
    for (int r = 0; r < rounds && !s.empty(); ++r) {
      const size_t limit = std::max<size_t>(1, prefix ? std::min(prefix, s.size()) : s.size());
      const size_t at = rng_() % limit;
      switch (rng_() % 9) {
        case 0: s[at] = char(uint8_t(s[at]) ^ (1u << (rng_() % 8))); break;
        case 1: s[at] = char(kBytes[rng_() % sizeof kBytes]); break;
        case 2: {  // an interesting little-endian integer over a field
          const uint64_t v = kInts[rng_() % (sizeof kInts / sizeof kInts[0])];
          const size_t w = rng_() % 2 ? 4 : 8;
          if (at + w <= s.size()) std::memcpy(s.data() + at, &v, w);
          break;
        }
        case 3: s[at] = kJsonish[rng_() % (sizeof kJsonish - 1)]; break;
        case 4: {  // a digit run replaced by a huge, negative or fractional number
          static const char* nums[] = {"0", "-1", "1e308", "99999999999", "1e-300", "nan", "-0", "4294967296"};
          size_t b = at;
          while (b < s.size() && !std::isdigit(uint8_t(s[b]))) ++b;
          size_t e = b;
          while (e < s.size() && std::isdigit(uint8_t(s[e]))) ++e;
          if (b < s.size()) s.replace(b, e - b, nums[rng_() % 8]);
          break;
        }
        case 5: s.erase(at, 1 + rng_() % 64); break;
        case 6: s.insert(at, s.substr(at, 1 + rng_() % 64)); break;
        case 7: s.resize(at); break;
        case 8:
          if (!other.empty()) s = s.substr(0, at) + other.substr(std::min(other.size(), size_t(rng_() % other.size())));
          break;
      }
    }
    return s;
  }

  size_t pick(size_t n) { return rng_() % n; }

 private:
  static constexpr uint8_t kBytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '"', '\\', '{'};
  static constexpr uint64_t kInts[] = {0, 1, 0xffffffffull, 0x7fffffffull, 0x80000000ull, 1000000ull, 1ull << 40,
                                       ~0ull, 0x7fffffffffffffffull, 4096};
  static constexpr char kJsonish[] = "\"{}[],:-.0123456789eE \\";
  std::mt19937_64 rng_;
};

}  // namespace llmq::fuzz
