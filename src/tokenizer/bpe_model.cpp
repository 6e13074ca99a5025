#include "tokenizer/bpe_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <queue>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace llmq {
namespace {

// Words longer than this are rare and unlikely to repeat; memoising them
// would only cost memory (tokenizers uses the same bound).
constexpr size_t kMaxCachedWordBytes = 256;

constexpr uint32_t kBmpSize = 0x10000;

}  // namespace

void BpeModel::MergeTable::reserve(size_t n) {
  size_t capacity = 16;
  shift_ = 60;
  while (capacity < 2 * n) {
    capacity *= 2;
    --shift_;
  }
  keys_.assign(capacity, kEmpty);
  values_.assign(capacity, Merge{0, 0});
  mask_ = capacity - 1;
}

void BpeModel::MergeTable::insert(int32_t left, int32_t right, Merge merge) {
  const uint64_t k = key(left, right);
  for (size_t i = slot(k);; i = (i + 1) & mask_) {
    if (keys_[i] == k) return;
    if (keys_[i] == kEmpty) {
      keys_[i] = k;
      values_[i] = merge;
      return;
    }
  }
}

const BpeModel::Merge* BpeModel::MergeTable::find(int32_t left, int32_t right) const {
  if (keys_.empty()) return nullptr;
  const uint64_t k = key(left, right);
  for (size_t i = slot(k);; i = (i + 1) & mask_) {
    if (keys_[i] == k) return &values_[i];
    if (keys_[i] == kEmpty) return nullptr;
  }
}

namespace {
constexpr int32_t kMaxTokenId = 1 << 24;  // the vocabulary bound of ModelConfig::check
}  // namespace

BpeModel::BpeModel(const std::unordered_map<std::string, int32_t>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options)
    : options_(std::move(options)), vocab_(vocab), merges_(merges) {
  int32_t max_id = -1;
  for (const auto& [token, id] : vocab_) {
    if (id < 0) fail("vocab entry '{}' has negative id {}", token, id);
    // Ids size a table: one far beyond any vocabulary is a corrupt file, not a reason to allocate gigabytes.
    if (id > kMaxTokenId) fail("vocab entry '{}' has id {}, beyond any vocabulary ({})", token, id, kMaxTokenId);
    max_id = std::max(max_id, id);
  }
  id_to_token_.assign(static_cast<size_t>(max_id + 1), std::string());
  bmp_char_ids_.assign(kBmpSize, -1);
  for (const auto& [token, id] : vocab_) {
    id_to_token_[id] = token;
    size_t pos = 0;
    uint32_t cp;
    if (utf8::decode(token, pos, cp) && pos == token.size()) {
      if (cp < kBmpSize) {
        bmp_char_ids_[cp] = id;
      } else {
        astral_char_ids_[cp] = id;
      }
    }
  }
  byte_token_ids_.assign(256, -1);
  for (int b = 0; b < 256; ++b) {
    if (auto id = token_to_id(fmt::format("<0x{:02X}>", b))) byte_token_ids_[b] = *id;
  }
  if (options_.unk_token) {
    unk_id_ = token_to_id(*options_.unk_token);
    if (!unk_id_) fail("unk_token '{}' is not in the vocab", *options_.unk_token);
  }

  merge_table_.reserve(merges_.size());
  for (size_t rank = 0; rank < merges_.size(); ++rank) {
    const auto& [left, right] = merges_[rank];
    const auto left_id = token_to_id(left);
    const auto right_id = token_to_id(right);
    if (!left_id || !right_id) {
      fail("merge {} '{} {}' uses token '{}' that is not in the vocab", rank, left, right, !left_id ? left : right);
    }
    const auto merged_id = token_to_id(left + right);
    if (!merged_id) fail("merge {} '{} {}' makes '{}{}' that is not in the vocab", rank, left, right, left, right);
    // The first (lowest-ranked) occurrence of a pair wins, as in tokenizers.
    merge_table_.insert(*left_id, *right_id, Merge{static_cast<int32_t>(rank), *merged_id});
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

int32_t BpeModel::char_id(uint32_t cp) const {
  if (cp < kBmpSize) return bmp_char_ids_[cp];
  auto it = astral_char_ids_.find(cp);
  return it == astral_char_ids_.end() ? -1 : it->second;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& ids) const {
  bool pending_unk = false;  // an unk symbol not yet emitted, so fuse_unk can extend it
  const auto flush_unk = [&] {
    if (pending_unk) ids.push_back(*unk_id_);
    pending_unk = false;
  };
  size_t pos = 0;
  while (pos < word.size()) {
    const size_t start = pos;
    uint32_t cp;
    if (!utf8::decode(word, pos, cp)) {  // input is validated upstream; be safe anyway
      cp = utf8::kReplacementChar;
      pos = start + 1;
    }
    if (const int32_t id = char_id(cp); id >= 0) {
      flush_unk();
      ids.push_back(id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all_bytes_known = true;
      for (size_t i = start; i < pos; ++i) all_bytes_known &= byte_token_ids_[static_cast<uint8_t>(word[i])] >= 0;
      if (all_bytes_known) {
        flush_unk();
        for (size_t i = start; i < pos; ++i) ids.push_back(byte_token_ids_[static_cast<uint8_t>(word[i])]);
        continue;
      }
    }
    if (unk_id_) {
      if (!options_.fuse_unk) flush_unk();
      pending_unk = true;
    }
    // Without an unk token the character is dropped, as tokenizers does.
  }
  flush_unk();
}

void BpeModel::merge_all(std::vector<int32_t>& ids) const {
  const int32_t n = static_cast<int32_t>(ids.size());
  if (n < 2) return;
  // ids[i] is symbol i's token (-1 once merged into its left neighbour);
  // links keep the survivors in order.
  struct Links {
    int32_t prev, next;
  };
  std::vector<Links> links(n);
  for (int32_t i = 0; i < n; ++i) links[i] = {i - 1, i + 1 < n ? i + 1 : -1};

  struct Candidate {
    int32_t rank;
    int32_t pos;  // index of the left symbol
    int32_t new_id;
  };
  // Lowest rank first; among equal ranks the leftmost.
  const auto lower_priority = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::vector<Candidate> initial;
  initial.reserve(n);
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const Merge* m = find_merge(ids[i], ids[i + 1])) initial.push_back({m->rank, i, m->new_id});
  }
  // Built in one heapify rather than n pushes.
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower_priority)> queue(lower_priority,
                                                                                          std::move(initial));

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    const int32_t left = top.pos;
    if (ids[left] < 0) continue;
    const int32_t right = links[left].next;
    if (right < 0) continue;
    // Entries go stale when a neighbour merged since they were queued; the
    // pair is re-checked by the id it would produce, as tokenizers does.
    const Merge* current = find_merge(ids[left], ids[right]);
    if (!current || current->new_id != top.new_id) continue;

    ids[left] = top.new_id;
    ids[right] = -1;
    const int32_t after = links[right].next;
    links[left].next = after;
    if (after >= 0) links[after].prev = left;

    if (const int32_t before = links[left].prev; before >= 0) {
      if (const Merge* m = find_merge(ids[before], ids[left])) queue.push({m->rank, before, m->new_id});
    }
    if (after >= 0) {
      if (const Merge* m = find_merge(ids[left], ids[after])) queue.push({m->rank, left, m->new_id});
    }
  }

  int32_t kept = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (ids[i] >= 0) ids[kept++] = ids[i];
  }
  ids.resize(kept);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out, WordCache* cache) const {
  if (word.empty()) return;
  const bool cacheable = cache && word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    if (auto it = cache->find(std::string(word)); it != cache->end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  if (options_.ignore_merges) {
    if (auto id = token_to_id(word)) ids.push_back(*id);
  }
  if (ids.empty()) {
    ids.reserve(word.size());
    initial_symbols(word, ids);
    merge_all(ids);
  }
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) cache->emplace(std::string(word), std::move(ids));
}

}  // namespace llmq
