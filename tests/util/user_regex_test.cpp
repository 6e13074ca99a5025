// User regexes: std::regex_search semantics for ordinary patterns, a clear
// error for invalid ones, and an error (not minutes of backtracking) for a
// pattern that explodes on its subject.
#include <chrono>

#include <gtest/gtest.h>

#include "util/error.h"
#include "util/user_regex.h"

namespace llmq {
namespace {

TEST(UserRegex, SearchesLikeRegexSearch) {
  const UserRegex down("mlp\\.down_proj");
  EXPECT_TRUE(down.search("model.layers.3.mlp.down_proj.weight"));
  EXPECT_FALSE(down.search("model.layers.3.mlp.up_proj.weight"));
  const UserRegex anchored("^blk\\.0\\.attn_[qkv]\\.weight$");
  EXPECT_TRUE(anchored.search("blk.0.attn_k.weight"));
  EXPECT_FALSE(anchored.search("blk.10.attn_k.weight"));
  const UserRegex copy = anchored;  // copies share the compiled pattern
  EXPECT_TRUE(copy.search("blk.0.attn_v.weight"));
}

TEST(UserRegex, InvalidPatternsNameThemselves) {
  try {
    UserRegex bad("(unclosed");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad regular expression '(unclosed'"), std::string::npos) << e.what();
  }
}

TEST(UserRegex, CatastrophicBacktrackingEndsWithAnError) {
  const UserRegex evil("^(a+)+$");
  const std::string subject = std::string(40, 'a') + "!";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(evil.search(subject), Error);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

}  // namespace
}  // namespace llmq
