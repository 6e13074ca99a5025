// Small hand-written tokenizer.json files for the spellings real checkpoints
// use that the fixtures do not: merge formats, Metaspace, post-processors,
// tokenizer_config flags, added-token options, GPT-2-style ByteLevel.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tokenizer/byte_level_map.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_support.h"

namespace llmq {
namespace {

using nlohmann::json;
using tokenizer_test::ScratchDir;

const std::string kSpace = "\xE2\x96\x81";  // "▁"

// A SentencePiece-style BPE: <unk> <s> </s>, 256 byte tokens, then pieces.
json sentencepiece_style(bool pair_merges = false) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;
  int32_t next = 259;
  for (const std::string& piece : {kSpace, std::string("a"), std::string("b"), std::string("h"), std::string("i"),
                                   kSpace + "a", std::string("ab"), kSpace + "ab", std::string("hi"), kSpace + "hi"}) {
    vocab[piece] = next++;
  }
  const std::vector<std::pair<std::string, std::string>> merges = {
      {kSpace, "a"}, {"a", "b"}, {kSpace + "a", "b"}, {"h", "i"}, {kSpace, "hi"}};
  json merge_list = json::array();
  for (const auto& [l, r] : merges) {
    merge_list.push_back(pair_merges ? json::array({l, r}) : json(l + " " + r));
  }
  json added = json::array();
  for (const auto& [content, id] : std::vector<std::pair<std::string, int>>{{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}}) {
    added.push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}});
  }
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", kSpace}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor", nullptr},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merge_list}}},
  };
}

// The older spelling of the same tokenizer: a Metaspace pre-tokenizer and decoder.
json metaspace_style(const json& metaspace_options) {
  json j = sentencepiece_style();
  j["normalizer"] = nullptr;
  json pre = {{"type", "Metaspace"}, {"replacement", kSpace}};
  pre.update(metaspace_options);
  j["pre_tokenizer"] = pre;
  j["decoder"] = pre;
  return j;
}

std::unique_ptr<Tokenizer> load(const ScratchDir& dir, const json& tokenizer_json) {
  dir.write_json("tokenizer.json", tokenizer_json);
  return Tokenizer::load(dir.path());
}

std::vector<int32_t> ids(std::initializer_list<int32_t> list) { return list; }

TEST(SentencePieceStyleJson, EncodesAndDecodesWithByteFallback) {
  ScratchDir dir;
  const auto t = load(dir, sentencepiece_style());
  EXPECT_EQ(t->kind(), TokenizerKind::SentencePieceBpe);
  // "▁ab" "▁hi" "▁" then é as bytes <0xC3><0xA9>
  const auto got = t->encode("ab hi \xC3\xA9");
  EXPECT_EQ(got, ids({266, 268, 259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t->decode(got), "ab hi \xC3\xA9");
  // A lone continuation byte decodes as U+FFFD.
  EXPECT_EQ(t->decode(ids({265, 3 + 0xA9})), "ab\xEF\xBF\xBD");
}

TEST(SentencePieceStyleJson, MergesAsPairsEqualMergesAsStrings) {
  ScratchDir a, b;
  const auto strings = load(a, sentencepiece_style(false));
  const auto pairs = load(b, sentencepiece_style(true));
  for (const char* text : {"ab hi", "aab bhi hih", "abab"}) EXPECT_EQ(strings->encode(text), pairs->encode(text));
  EXPECT_EQ(strings->merges(), pairs->merges());
}

TEST(SentencePieceStyleJson, MetaspaceSpellingsEncodeAlike) {
  ScratchDir base_dir, first_dir, legacy_dir, dummy_dir;
  const auto base = load(base_dir, sentencepiece_style());
  const auto first = load(first_dir, metaspace_style({{"prepend_scheme", "first"}, {"split", false}}));
  const auto legacy = load(legacy_dir, metaspace_style({{"add_prefix_space", true}}));
  const auto dummy = load(dummy_dir, metaspace_style({{"add_dummy_prefix", true}}));
  for (const char* text : {"ab hi", "hi  ab", "abhi"}) {
    const auto expected = base->encode(text);
    EXPECT_EQ(first->encode(text), expected) << text;
    EXPECT_EQ(legacy->encode(text), expected) << text;
    EXPECT_EQ(dummy->encode(text), expected) << text;
    EXPECT_EQ(first->decode(expected), text);
    EXPECT_EQ(legacy->decode(expected), text);
  }
}

TEST(SentencePieceStyleJson, MetaspacePrependFirstOnlyAtTheStartOfInput) {
  ScratchDir first_dir, always_dir, never_dir;
  const auto first = load(first_dir, metaspace_style({{"prepend_scheme", "first"}}));
  const auto always = load(always_dir, metaspace_style({{"prepend_scheme", "always"}}));
  const auto never = load(never_dir, metaspace_style({{"prepend_scheme", "never"}}));
  EXPECT_EQ(first->encode("hi</s>ab"), ids({268, 2, 265}));   // "▁hi" </s> "ab"
  EXPECT_EQ(always->encode("hi</s>ab"), ids({268, 2, 266}));  // "▁hi" </s> "▁ab"
  EXPECT_EQ(never->encode("hi ab"), ids({267, 266}));         // "hi" "▁ab"
}

TEST(SentencePieceStyleJson, TemplateProcessingAddsBosAndEos) {
  json j = sentencepiece_style();
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
        {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
      {"pair", json::array()},
      {"special_tokens",
       {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}},
        {"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}};
  ScratchDir dir;
  const auto t = load(dir, j);
  EXPECT_TRUE(t->add_bos());
  EXPECT_TRUE(t->add_eos());
  EXPECT_EQ(t->bos_id(), 1);  // no config files: taken from the template
  EXPECT_EQ(t->eos_id(), 2);
  EXPECT_EQ(t->encode("ab", true), ids({1, 266, 2}));
  EXPECT_EQ(t->encode("ab", false), ids({266}));
  EXPECT_EQ(t->decode(t->encode("ab", true)), "ab");

  // tokenizer_config.json's flags win over the template (transformers'
  // Llama tokenizers rebuild the post-processor from them).
  ScratchDir dir2;
  dir2.write_json("tokenizer_config.json", {{"add_bos_token", false}, {"bos_token", "<s>"}, {"eos_token", "</s>"}});
  const auto overridden = load(dir2, j);
  EXPECT_FALSE(overridden->add_bos());
  EXPECT_TRUE(overridden->add_eos());
  EXPECT_EQ(overridden->encode("ab", true), ids({266, 2}));
}

TEST(SentencePieceStyleJson, LegacyAddBosTokenFlag) {
  ScratchDir dir;
  dir.write_json("tokenizer_config.json",
                 {{"add_bos_token", true}, {"add_eos_token", false}, {"bos_token", {{"content", "<s>"}}}});
  dir.write_json("config.json", {{"eos_token_id", 2}, {"pad_token_id", 0}});
  const auto t = load(dir, sentencepiece_style());
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  EXPECT_EQ(t->pad_id(), 0);
  EXPECT_TRUE(t->add_bos());
  EXPECT_FALSE(t->add_eos());
  EXPECT_EQ(t->encode("hi", true), ids({1, 268}));
}

TEST(SentencePieceStyleJson, GgufExtrasFromTokenizerConfig) {
  ScratchDir dir;
  dir.write_json("tokenizer_config.json", {{"add_prefix_space", false}, {"chat_template", "{{ messages }}"}});
  const auto t = load(dir, sentencepiece_style());
  EXPECT_EQ(t->gguf_vocab().add_space_prefix, false);
  EXPECT_EQ(t->gguf_vocab().chat_template, "{{ messages }}");

  ScratchDir plain;
  plain.write("chat_template.jinja", "{% for m in messages %}{% endfor %}");
  const auto u = load(plain, sentencepiece_style());
  EXPECT_EQ(u->gguf_vocab().add_space_prefix, std::nullopt);
  EXPECT_EQ(u->gguf_vocab().chat_template, "{% for m in messages %}{% endfor %}");
}

TEST(SentencePieceStyleJson, GenerationConfigSuppliesMissingIds) {
  ScratchDir dir;
  dir.write_json("generation_config.json", {{"bos_token_id", 1}, {"eos_token_id", {2, 0}}});
  const auto t = load(dir, sentencepiece_style());
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);  // the first of several
  EXPECT_FALSE(t->add_bos());
}

TEST(SentencePieceStyleJson, AddedTokenStripOptions) {
  json j = sentencepiece_style();
  j["added_tokens"].push_back({{"id", 275}, {"content", "<L>"}, {"lstrip", true}, {"rstrip", false},
                               {"normalized", false}, {"special", true}, {"single_word", false}});
  j["added_tokens"].push_back({{"id", 276}, {"content", "<R>"}, {"lstrip", false}, {"rstrip", true},
                               {"normalized", false}, {"special", false}, {"single_word", false}});
  ScratchDir dir;
  const auto t = load(dir, j);
  EXPECT_EQ(t->encode("ab  <L>"), ids({266, 275}));      // spaces before <L> are swallowed
  EXPECT_EQ(t->encode("ab  <R>"), ids({266, 259, 259, 276}));
  EXPECT_EQ(t->encode("<R>  ab"), ids({276, 266}));       // spaces after <R> are swallowed
  EXPECT_EQ(t->token_to_id("<R>"), 276);
  EXPECT_FALSE(t->is_special(276));
  // Non-special added tokens survive skip_special.
  EXPECT_EQ(t->decode(ids({276, 275})), "<R>");
  // Ids of added tokens beyond the model vocab extend it; the gap is padding.
  EXPECT_EQ(t->vocab_size(), 277);
  EXPECT_EQ(t->token_types()[276], TokenType::UserDefined);
  EXPECT_EQ(t->token_types()[275], TokenType::Control);
  EXPECT_EQ(t->token_types()[270], TokenType::Unused);
}

TEST(SentencePieceStyleJson, DerivedScoresFollowSentencePieceConvention) {
  ScratchDir dir;
  const auto t = load(dir, sentencepiece_style());
  const GgufVocab& v = t->gguf_vocab();
  EXPECT_EQ(v.model, "llama");
  ASSERT_EQ(v.scores.size(), 269u);
  EXPECT_EQ(v.types[0], TokenType::Control);
  EXPECT_EQ(v.types[3], TokenType::Byte);
  EXPECT_FLOAT_EQ(v.scores[259], 0.0f);
  EXPECT_FLOAT_EQ(v.scores[268], -9.0f);
  EXPECT_EQ(v.merges.front(), kSpace + " a");
}

// GPT-2 style: ByteLevel with use_regex and no Split step.
json gpt2_style() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::encode(std::string(1, static_cast<char>(b)))] = b;
  const std::string G = "\xC4\xA0";  // "Ġ", the stand-in for ' '
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {G, "w"}, {G + "w", "o"}};
  int32_t next = 256;
  json merge_list = json::array();
  for (const auto& [l, r] : merges) {
    vocab[l + r] = next++;
    merge_list.push_back(l + " " + r);
  }
  vocab["<|endoftext|>"] = next;
  return {
      {"added_tokens",
       {{{"id", next}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}, {"trim_offsets", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}}},
  };
}

TEST(ByteLevelJson, Gpt2RegexSplitsWords) {
  ScratchDir dir;
  const auto t = load(dir, gpt2_style());
  EXPECT_EQ(t->kind(), TokenizerKind::ByteLevelBpe);
  EXPECT_EQ(t->pre_tokenizer_regex(), kGpt2SplitRegex);
  EXPECT_EQ(t->gguf_vocab().pre, "gpt-2");
  EXPECT_EQ(t->gguf_vocab().model, "gpt2");
  EXPECT_TRUE(t->scores().empty());
  // "hello" "Ġwo" "r" "l" "d": the regex keeps the space with the next word.
  EXPECT_EQ(t->encode("hello world"), ids({259, 261, 'r', 'l', 'd'}));
  // The regex splits "hello" from "world", so no merge crosses the space.
  EXPECT_EQ(t->encode("hellowo"), ids({259, 'w', 'o'}));
  const std::string text = "hello \xF0\x9F\x99\x82\n\tw\xC3\xA9<|endoftext|>";
  const auto got = t->encode(text);
  EXPECT_EQ(got.back(), 262);
  EXPECT_EQ(t->decode(got, /*skip_special=*/false), text);
  EXPECT_EQ(t->token_types()[262], TokenType::Control);
  EXPECT_EQ(t->token_types()[256], TokenType::Normal);
}

TEST(ByteLevelJson, AddPrefixSpace) {
  json j = gpt2_style();
  j["pre_tokenizer"]["add_prefix_space"] = true;
  ScratchDir dir;
  const auto t = load(dir, j);
  EXPECT_EQ(t->encode("world"), ids({261, 'r', 'l', 'd'}));  // "Ġwo" ...
}

}  // namespace
}  // namespace llmq
