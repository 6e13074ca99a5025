// The tokenizer.model path (libsentencepiece), checked against the
// tokenizer.json path and the reference ids of tiny-llama, which ships both.
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_support.h"

namespace llmq {
namespace {

using tokenizer_test::fixture_dir;
using tokenizer_test::reference;
using tokenizer_test::ScratchDir;

// tiny-llama without its tokenizer.json.
class SentencePieceModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"tokenizer.model", "tokenizer_config.json", "config.json", "generation_config.json"}) {
      dir_.copy_from(fixture_dir("tiny-llama"), name);
    }
    tokenizer_ = Tokenizer::load(dir_.path());
    reference_ = reference("tiny-llama");
  }

  ScratchDir dir_;
  std::unique_ptr<Tokenizer> tokenizer_;
  nlohmann::json reference_;
};

TEST_F(SentencePieceModelTest, IsLoadedAsSentencePieceModel) {
  EXPECT_EQ(tokenizer_->kind(), TokenizerKind::SentencePieceModel);
  EXPECT_EQ(tokenizer_->vocab_size(), 8192);
  EXPECT_EQ(tokenizer_->bos_id(), 1);
  EXPECT_EQ(tokenizer_->eos_id(), 2);
  EXPECT_EQ(tokenizer_->unk_id(), 0);
  EXPECT_FALSE(tokenizer_->add_bos());  // tokenizer_config.json says add_bos_token: false
}

TEST_F(SentencePieceModelTest, EncodesSampleLikeTokenizerJson) {
  const std::string text = reference_.at("sample_text");
  const auto expected = reference_.at("sample_ids").get<std::vector<int32_t>>();
  EXPECT_EQ(tokenizer_->encode(text), expected);
  EXPECT_EQ(tokenizer_->decode(expected), text);
}

TEST_F(SentencePieceModelTest, AgreesWithTokenizerJsonOnWikiText2) {
  // The first 300 KB (whole lines) keep the test quick: libsentencepiece is
  // several times slower than our BPE.
  const std::string all = tokenizer_test::wikitext();
  const std::string text = all.substr(0, all.find('\n', 300000) + 1);
  const auto from_model = tokenizer_->encode(text);
  const auto from_json = Tokenizer::load(fixture_dir("tiny-llama"))->encode(text);
  EXPECT_GT(from_model.size(), 100000u);
  EXPECT_TRUE(from_model == from_json);
}

TEST_F(SentencePieceModelTest, ControlTokensInTextMapToTheirIds) {
  const auto hello = tokenizer_->encode("Hello world");
  auto with_eos = tokenizer_->encode("Hello world</s>");
  ASSERT_EQ(with_eos.size(), hello.size() + 1);
  EXPECT_EQ(with_eos.back(), 2);
  EXPECT_EQ(tokenizer_->decode(with_eos), "Hello world");
  EXPECT_EQ(tokenizer_->decode(with_eos, /*skip_special=*/false), "Hello world</s>");
}

TEST_F(SentencePieceModelTest, GgufVocabComesFromTheModel) {
  const GgufVocab& v = tokenizer_->gguf_vocab();
  EXPECT_EQ(v.model, "llama");
  EXPECT_EQ(v.pre, "default");
  ASSERT_EQ(v.tokens.size(), 8192u);
  ASSERT_EQ(v.scores.size(), 8192u);
  ASSERT_EQ(v.types.size(), 8192u);
  EXPECT_EQ(v.tokens[0], "<unk>");
  EXPECT_EQ(v.types[0], TokenType::Unknown);
  EXPECT_EQ(v.types[1], TokenType::Control);
  EXPECT_EQ(v.types[2], TokenType::Control);
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.types[3], TokenType::Byte);
  EXPECT_EQ(v.tokens[258], "<0xFF>");
  EXPECT_EQ(v.tokens[259], "\xE2\x96\x81\xE2\x96\x81");  // "▁▁", the first merge
  EXPECT_EQ(v.types[259], TokenType::Normal);
  EXPECT_FLOAT_EQ(v.scores[259], 0.0f);
  EXPECT_FLOAT_EQ(v.scores[1000], -741.0f);  // SentencePiece BPE scores fall by one per piece
  EXPECT_TRUE(v.merges.empty());
}

TEST(SentencePieceModelDefaults, AddsBosWhenNoConfigSaysOtherwise) {
  // A bare tokenizer.model follows the Llama convention (and llama.cpp's
  // default for SentencePiece vocabularies): BOS first.
  ScratchDir dir;
  dir.copy_from(fixture_dir("tiny-llama"), "tokenizer.model");
  const auto t = Tokenizer::load(dir.path());
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  EXPECT_TRUE(t->add_bos());
  EXPECT_FALSE(t->add_eos());
  const auto plain = t->encode("Hello");
  auto with_bos = t->encode("Hello", /*add_special=*/true);
  ASSERT_EQ(with_bos.size(), plain.size() + 1);
  EXPECT_EQ(with_bos[0], 1);
}

TEST(SentencePieceModelDefaults, PadsTheVocabToConfigVocabSize) {
  ScratchDir dir;
  dir.copy_from(fixture_dir("tiny-llama"), "tokenizer.model");
  dir.write_json("config.json", {{"vocab_size", 8200}});
  const auto t = Tokenizer::load(dir.path());
  ASSERT_EQ(t->vocab_size(), 8200);
  EXPECT_EQ(t->tokens()[8195], "[PAD8195]");
  EXPECT_EQ(t->token_types()[8195], TokenType::Unused);
  // Padding ids decode to nothing.
  const std::vector<int32_t> ids = {8195};
  EXPECT_EQ(t->decode(ids), "");
}

}  // namespace
}  // namespace llmq
