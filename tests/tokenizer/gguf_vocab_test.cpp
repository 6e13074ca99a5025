// The GGUF vocabulary tables of the fixtures, as llama.cpp's converter writes them.
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_support.h"

namespace llmq {
namespace {

using tokenizer_test::fixture_dir;
using tokenizer_test::ScratchDir;

TEST(GgufVocab, QwenIsGpt2WithQwen2PreTokenizer) {
  const auto t = Tokenizer::load(fixture_dir("tiny-qwen3moe"));
  const GgufVocab& v = t->gguf_vocab();
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "qwen2");
  EXPECT_EQ(t->pre_tokenizer_regex(),
            R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)");
  ASSERT_EQ(v.tokens.size(), 8192u);
  ASSERT_EQ(v.types.size(), 8192u);
  EXPECT_TRUE(v.scores.empty());
  EXPECT_EQ(v.tokens[0], "<|endoftext|>");
  EXPECT_EQ(v.tokens[1], "<|im_start|>");
  for (int id : {0, 1, 2}) EXPECT_EQ(v.types[id], TokenType::Control) << id;
  EXPECT_EQ(v.types[3], TokenType::Normal);
  EXPECT_EQ(v.tokens[259], "\xC4\xA0\xC4\xA0");  // "ĠĠ"
  ASSERT_EQ(v.merges.size(), 7933u);
  EXPECT_EQ(v.merges[0], "\xC4\xA0 \xC4\xA0");     // "Ġ Ġ"
  EXPECT_EQ(v.merges[3], "\xC4\xA0 t");
}

TEST(GgufVocab, LlamaVocabComesFromTokenizerModelWhenPresent) {
  const auto t = Tokenizer::load(fixture_dir("tiny-llama"));
  const GgufVocab& v = t->gguf_vocab();
  EXPECT_EQ(v.model, "llama");
  EXPECT_EQ(v.pre, "default");
  EXPECT_EQ(v.types[0], TokenType::Unknown);  // SentencePiece's own type for <unk>
  EXPECT_EQ(v.types[1], TokenType::Control);
  EXPECT_EQ(v.types[100], TokenType::Byte);
  EXPECT_TRUE(t->pre_tokenizer_regex().empty());
  EXPECT_TRUE(v.merges.empty());  // llama.cpp writes none for a SentencePiece vocab
}

TEST(GgufVocab, LlamaScoresWithoutTokenizerModelMatchSentencePiece) {
  // tokenizer.json alone: scores are derived (see gguf_vocab.h) and should
  // equal what SentencePiece stored in tokenizer.model.
  ScratchDir json_only;
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "config.json"}) {
    json_only.copy_from(fixture_dir("tiny-llama"), name);
  }
  const auto from_json = Tokenizer::load(json_only.path());
  ScratchDir model_only;
  model_only.copy_from(fixture_dir("tiny-llama"), "tokenizer.model");
  const auto from_model = Tokenizer::load(model_only.path());

  const GgufVocab& j = from_json->gguf_vocab();
  const GgufVocab& m = from_model->gguf_vocab();
  ASSERT_EQ(j.tokens.size(), m.tokens.size());
  EXPECT_EQ(j.tokens, m.tokens);
  EXPECT_EQ(j.types[0], TokenType::Control);  // special in tokenizer.json (llama.cpp's LlamaHfVocab rule)
  for (size_t id = 1; id < j.tokens.size(); ++id) {
    ASSERT_EQ(j.types[id], m.types[id]) << id;
    ASSERT_FLOAT_EQ(j.scores[id], m.scores[id]) << id;
  }
  EXPECT_EQ(j.merges.size(), 11338u);  // kept for exporters that want them
}

TEST(GgufVocab, AddedTokensBeyondTokenizerModelUseTokenizerJsonTables) {
  // A tokenizer.json that grew an added token the tokenizer.model lacks
  // (as chat fine-tunes do): the tables come from tokenizer.json then.
  ScratchDir dir;
  dir.copy_from(fixture_dir("tiny-llama"), "tokenizer.model");
  auto j = nlohmann::json::parse(tokenizer_test::read_text(fixture_dir("tiny-llama") + "/tokenizer.json"));
  j["added_tokens"].push_back({{"id", 8192}, {"content", "<|pad|>"}, {"special", true}, {"normalized", false}});
  dir.write_json("tokenizer.json", j);
  const auto t = Tokenizer::load(dir.path());
  ASSERT_EQ(t->vocab_size(), 8193);
  EXPECT_EQ(t->tokens()[8192], "<|pad|>");
  EXPECT_EQ(t->token_types()[8192], TokenType::Control);
  EXPECT_EQ(t->encode("a<|pad|>").back(), 8192);
}

}  // namespace
}  // namespace llmq
