#pragma once
// The BPE model of a tokenizer.json ("model": {"type": "BPE"}): vocab, merge
// ranks, and the merge loop that turns one pre-tokenized word into ids.
//
// The merge loop follows Hugging Face tokenizers exactly, since token ids must
// match the reference tokenizer bit for bit: start from one symbol per
// character, repeatedly apply the lowest-ranked applicable merge (leftmost
// first on ties) until none applies. It keeps the symbols in a linked list
// and the candidate merges in a binary heap, so a word of n characters costs
// O(n log n). That matters because SentencePiece-style tokenizers have no
// pre-tokenizer: a whole document is one "word".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace llmq {

struct BpeOptions {
  std::optional<std::string> unk_token;  // emitted for characters not in vocab (if set)
  bool fuse_unk = false;                 // consecutive unknown characters become one unk
  bool byte_fallback = false;            // unknown characters become their <0xXX> byte tokens
  bool ignore_merges = false;            // a word found whole in the vocab is emitted as is (Llama 3)
};

class BpeModel {
 public:
  // Memo of already-encoded words; one per encode call keeps the model const
  // and thread-safe while still paying once per distinct word.
  using WordCache = std::unordered_map<std::string, std::vector<int32_t>>;

  // Throws llmq::Error (without a file name: the loader adds it) if a merge
  // names a token that is not in the vocab, or its result is not in the vocab.
  BpeModel(const std::unordered_map<std::string, int32_t>& vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options);

  // Appends the ids of one word. cache may be null.
  void encode_word(std::string_view word, std::vector<int32_t>& out, WordCache* cache = nullptr) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // Empty string for ids inside the range that the vocab does not use.
  const std::string& id_to_token(int32_t id) const { return id_to_token_[id]; }
  // One past the largest vocab id.
  int32_t id_count() const { return static_cast<int32_t>(id_to_token_.size()); }
  std::optional<int32_t> unk_id() const { return unk_id_; }
  const BpeOptions& options() const { return options_; }
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  // Open-addressing table from (left id, right id) to its merge. The merge
  // loop does a lookup per symbol pair, and std::unordered_map's node
  // chasing made those lookups the largest cost of encoding.
  class MergeTable {
   public:
    void reserve(size_t n);
    // Keeps the existing entry if the pair is already present.
    void insert(int32_t left, int32_t right, Merge merge);
    const Merge* find(int32_t left, int32_t right) const;

   private:
    static constexpr uint64_t kEmpty = ~uint64_t{0};  // (-1, -1): never a real pair
    static uint64_t key(int32_t a, int32_t b) {
      return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }
    size_t slot(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_); }
    std::vector<uint64_t> keys_;
    std::vector<Merge> values_;
    size_t mask_ = 0;
    int shift_ = 64;
  };
  const Merge* find_merge(int32_t left, int32_t right) const { return merge_table_.find(left, right); }
  int32_t char_id(uint32_t cp) const;
  // Initial symbols of a word: one per character, with byte fallback and unk fusing.
  void initial_symbols(std::string_view word, std::vector<int32_t>& ids) const;
  void merge_all(std::vector<int32_t>& ids) const;

  BpeOptions options_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  // Tokens that are a single code point: a dense table for the BMP, a map beyond.
  std::vector<int32_t> bmp_char_ids_;
  std::unordered_map<uint32_t, int32_t> astral_char_ids_;
  std::vector<int32_t> byte_token_ids_;             // id of "<0xXX>" per byte, -1 if absent
  MergeTable merge_table_;
  std::vector<std::pair<std::string, std::string>> merges_;
  std::optional<int32_t> unk_id_;
};

}  // namespace llmq
