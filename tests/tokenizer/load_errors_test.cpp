// Bad or missing tokenizer files give llmq::Error naming the file.
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_support.h"
#include "util/error.h"

namespace llmq {
namespace {

using tokenizer_test::fixture_dir;
using tokenizer_test::ScratchDir;

// The message of the llmq::Error that loading dir throws ("" if none).
std::string load_error(const std::string& dir) {
  try {
    Tokenizer::load(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TokenizerLoadErrors, MissingDirectory) {
  const std::string dir = "/nonexistent/llmq-model";
  EXPECT_NE(load_error(dir).find(dir), std::string::npos);
}

TEST(TokenizerLoadErrors, DirectoryWithoutTokenizerFiles) {
  ScratchDir dir;
  dir.write("config.json", "{}");
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(dir.path()), std::string::npos) << message;
  EXPECT_NE(message.find("tokenizer"), std::string::npos) << message;
}

TEST(TokenizerLoadErrors, MalformedTokenizerJson) {
  ScratchDir dir;
  dir.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", ");
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(dir.file("tokenizer.json")), std::string::npos) << message;
  EXPECT_NE(message.find("malformed JSON"), std::string::npos) << message;
}

TEST(TokenizerLoadErrors, UnknownModelType) {
  ScratchDir dir;
  dir.write_json("tokenizer.json", {{"model", {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}}}});
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(dir.file("tokenizer.json")), std::string::npos) << message;
  EXPECT_NE(message.find("WordPiece"), std::string::npos) << message;
}

TEST(TokenizerLoadErrors, MissingVocab) {
  ScratchDir dir;
  dir.write_json("tokenizer.json", {{"model", {{"type", "BPE"}}}});
  EXPECT_NE(load_error(dir.path()).find(dir.file("tokenizer.json")), std::string::npos);
}

TEST(TokenizerLoadErrors, MergeOutsideVocab) {
  ScratchDir dir;
  dir.write_json("tokenizer.json",
                 {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}}}, {"merges", {"a c"}}}}});
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(dir.file("tokenizer.json")), std::string::npos) << message;
  EXPECT_NE(message.find("'c'"), std::string::npos) << message;
}

TEST(TokenizerLoadErrors, UnsupportedPreTokenizer) {
  ScratchDir dir;
  dir.write_json("tokenizer.json", {{"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
                                    {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", nlohmann::json::array()}}}});
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(dir.file("tokenizer.json")), std::string::npos) << message;
  EXPECT_NE(message.find("BertPreTokenizer"), std::string::npos) << message;
}

TEST(TokenizerLoadErrors, BadSplitRegex) {
  ScratchDir dir;
  dir.write_json("tokenizer.json",
                 {{"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}}},
                  {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", nlohmann::json::array()}}}});
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(dir.file("tokenizer.json")), std::string::npos) << message;
  EXPECT_NE(message.find("(unclosed"), std::string::npos) << message;
}

TEST(TokenizerLoadErrors, MalformedTokenizerConfig) {
  ScratchDir dir;
  dir.copy_from(fixture_dir("tiny-qwen3moe"), "tokenizer.json");
  dir.write("tokenizer_config.json", "{ not json");
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(dir.file("tokenizer_config.json")), std::string::npos) << message;
}

TEST(TokenizerLoadErrors, GarbageSentencePieceModel) {
  ScratchDir dir;
  dir.write("tokenizer.model", "this is not a protobuf");
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(dir.file("tokenizer.model")), std::string::npos) << message;
}

TEST(TokenizerLoadErrors, UnsupportedModelFallsBackToSentencePieceModel) {
  // A Unigram tokenizer.json beside a tokenizer.model: the model file is used.
  ScratchDir dir;
  dir.write_json("tokenizer.json", {{"model", {{"type", "Unigram"}, {"vocab", nlohmann::json::array()}}}});
  dir.copy_from(fixture_dir("tiny-llama"), "tokenizer.model");
  EXPECT_EQ(Tokenizer::load(dir.path())->kind(), TokenizerKind::SentencePieceModel);
}

}  // namespace
}  // namespace llmq
