// The BPE merge loop against a plain textbook implementation, and the GPT-2
// byte mapping against its definition.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/bpe_model.h"
#include "tokenizer/byte_level_map.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace llmq {
namespace {

// Textbook BPE: while some adjacent pair has a merge, merge the leftmost
// occurrence of the lowest-ranked one. O(n^2), obviously right.
std::vector<std::string> naive_bpe(const std::string& word, const std::vector<std::pair<std::string, std::string>>& merges) {
  std::vector<std::string> symbols;
  for (char c : word) symbols.emplace_back(1, c);
  while (true) {
    size_t best_rank = merges.size(), best_pos = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      for (size_t r = 0; r < best_rank; ++r) {
        if (merges[r].first == symbols[i] && merges[r].second == symbols[i + 1]) {
          best_rank = r;
          best_pos = i;
          break;
        }
      }
    }
    if (best_rank == merges.size()) return symbols;
    symbols[best_pos] += symbols[best_pos + 1];
    symbols.erase(symbols.begin() + best_pos + 1);
  }
}

TEST(BpeModel, MatchesTextbookBpeOnRandomWords) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    // Random merges over a small alphabet; each merged string is made by one
    // pair only, so "lowest-ranked pair" is unambiguous.
    std::unordered_map<std::string, int32_t> vocab;
    std::vector<std::string> tokens;
    for (char c : std::string("abcd")) {
      vocab[std::string(1, c)] = static_cast<int32_t>(tokens.size());
      tokens.emplace_back(1, c);
    }
    std::vector<std::pair<std::string, std::string>> merges;
    while (merges.size() < 40) {
      const std::string& l = tokens[rng() % tokens.size()];
      const std::string& r = tokens[rng() % tokens.size()];
      const std::string merged = l + r;
      if (vocab.count(merged) || merged.size() > 6) continue;
      merges.emplace_back(l, r);
      vocab[merged] = static_cast<int32_t>(tokens.size());
      tokens.push_back(merged);
    }
    const BpeModel model(vocab, merges, BpeOptions{});
    BpeModel::WordCache cache;
    for (int w = 0; w < 50; ++w) {
      std::string word;
      const size_t len = 1 + rng() % 60;
      for (size_t i = 0; i < len; ++i) word.push_back("abcd"[rng() % 4]);
      std::vector<int32_t> ids;
      model.encode_word(word, ids, (w % 2) ? &cache : nullptr);
      std::vector<std::string> got;
      for (int32_t id : ids) got.push_back(model.id_to_token(id));
      ASSERT_EQ(got, naive_bpe(word, merges)) << "word " << word;
    }
  }
}

TEST(BpeModel, ByteFallbackAndUnknownCharacters) {
  std::unordered_map<std::string, int32_t> vocab = {{"<unk>", 0}, {"a", 1}, {"<0xC3>", 2}, {"<0xA9>", 3}};
  BpeOptions options;
  options.unk_token = "<unk>";

  std::vector<int32_t> ids;
  BpeModel(vocab, {}, options).encode_word("a\xC3\xA9\xC3\xA9" "a", ids);  // "aééa"
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 0, 0, 1}));

  options.fuse_unk = true;
  ids.clear();
  BpeModel(vocab, {}, options).encode_word("a\xC3\xA9\xC3\xA9" "a", ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 0, 1}));

  options.byte_fallback = true;
  ids.clear();
  // é has both byte tokens; ü (C3 BC) lacks <0xBC> and stays unknown.
  BpeModel(vocab, {}, options).encode_word("\xC3\xA9" "a\xC3\xBC", ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 3, 1, 0}));
}

TEST(BpeModel, IgnoreMergesTakesWholeWordsFromTheVocab) {
  std::unordered_map<std::string, int32_t> vocab = {{"a", 0}, {"b", 1}, {"ab", 2}, {"abb", 3}};
  const std::vector<std::pair<std::string, std::string>> merges = {{"a", "b"}};
  std::vector<int32_t> ids;
  BpeModel(vocab, merges, BpeOptions{}).encode_word("abb", ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 1}));
  BpeOptions options;
  options.ignore_merges = true;
  ids.clear();
  BpeModel(vocab, merges, options).encode_word("abb", ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{3}));
}

TEST(BpeModel, RejectsMergesOutsideTheVocab) {
  std::unordered_map<std::string, int32_t> vocab = {{"a", 0}, {"b", 1}};
  EXPECT_THROW(BpeModel(vocab, {{"a", "c"}}, BpeOptions{}), Error);
  EXPECT_THROW(BpeModel(vocab, {{"a", "b"}}, BpeOptions{}), Error);  // "ab" missing
}

// An id far beyond any vocabulary sizes the id table: refused, not allocated (1e8 took 5 GB).
TEST(BpeModel, RejectsIdsBeyondAnyVocabulary) {
  EXPECT_THROW(BpeModel({{"a", 0}, {"b", 100000000}}, {}, {}), Error);
  EXPECT_THROW(BpeModel({{"a", -1}}, {}, {}), Error);
  EXPECT_NO_THROW(BpeModel({{"a", 0}, {"b", 151643}}, {}, {}));  // gaps below the bound are fine
}

TEST(ByteLevelMap, FollowsGpt2Definition) {
  EXPECT_EQ(byte_level::byte_to_char('A'), static_cast<uint32_t>('A'));
  EXPECT_EQ(byte_level::byte_to_char('~'), static_cast<uint32_t>('~'));
  EXPECT_EQ(byte_level::byte_to_char(0xE9), 0xE9u);   // printable Latin-1 maps to itself
  EXPECT_EQ(byte_level::byte_to_char(0x00), 0x100u);  // the 68 others go to U+0100.. in byte order
  EXPECT_EQ(byte_level::byte_to_char('\n'), 0x10Au);  // 'Ċ'
  EXPECT_EQ(byte_level::byte_to_char(' '), 0x120u);   // 'Ġ'
  EXPECT_EQ(byte_level::byte_to_char(0x7F), 0x121u);
  EXPECT_EQ(byte_level::byte_to_char(0xAD), 0x143u);  // the last one
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(byte_level::decode(byte_level::encode(all)), all);
  EXPECT_EQ(byte_level::encode(" hi\n"), "\xC4\xA0hi\xC4\x8A");
  EXPECT_EQ(byte_level::decode("a b"), std::nullopt);  // ' ' is not a stand-in
}

TEST(Utf8, RepairsInvalidBytes) {
  EXPECT_TRUE(utf8::is_valid("caf\xC3\xA9 \xF0\x9F\x99\x82"));
  EXPECT_FALSE(utf8::is_valid("\xC3"));
  EXPECT_FALSE(utf8::is_valid("\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(utf8::is_valid("\xC0\xAF"));      // overlong
  EXPECT_EQ(utf8::make_valid("a\xFF" "b\xC3"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
}

}  // namespace
}  // namespace llmq
