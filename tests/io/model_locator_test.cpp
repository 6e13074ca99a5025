// MODEL arguments as Hugging Face ids, resolved in a fake local cache.
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "io/model_locator.h"

using namespace llmq;
using llmq::test::TempDir;
using llmq::test::thrown_message;
using llmq::test::write_file;
namespace fs = std::filesystem;

namespace {

// Sets an environment variable for the scope, restoring the old value.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(const std::string& n, const std::optional<std::string>& value) : name(n) {
    if (const char* v = std::getenv(n.c_str())) old = v;
    if (value) ::setenv(n.c_str(), value->c_str(), 1);
    else ::unsetenv(n.c_str());
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

// models--<owner>--<name>/snapshots/<commit>/config.json, a symlink into blobs/.
std::string add_snapshot(const std::string& cache, const std::string& repo, const std::string& commit) {
  const fs::path root = fs::path(cache) / repo;
  fs::create_directories(root / "blobs");
  fs::create_directories(root / "snapshots" / commit);
  write_file((root / "blobs" / ("blob-" + commit)).string(), "{\"commit\": \"" + commit + "\"}");
  fs::create_symlink(fs::path("..") / ".." / "blobs" / ("blob-" + commit), root / "snapshots" / commit / "config.json");
  return (root / "snapshots" / commit).string();
}

}  // namespace

TEST(ModelLocator, CacheDirectoryFromEnvironment) {
  ScopedEnv home("HOME", "/home/u");
  {
    ScopedEnv a("HF_HUB_CACHE", "/x/hub"), b("HF_HOME", "/y");
    EXPECT_EQ(hf_hub_cache_dir(), "/x/hub");
  }
  {
    ScopedEnv a("HF_HUB_CACHE", std::nullopt), b("HF_HOME", "/y");
    EXPECT_EQ(hf_hub_cache_dir(), "/y/hub");
  }
  ScopedEnv a("HF_HUB_CACHE", std::nullopt), b("HF_HOME", std::nullopt);
  EXPECT_EQ(hf_hub_cache_dir(), "/home/u/.cache/huggingface/hub");
  EXPECT_EQ(hf_cache_repo_dir("Qwen/Qwen3-4B"), "/home/u/.cache/huggingface/hub/models--Qwen--Qwen3-4B");
}

TEST(ModelLocator, WhatLooksLikeAnId) {
  EXPECT_TRUE(looks_like_model_id("Qwen/Qwen3-4B"));
  EXPECT_TRUE(looks_like_model_id("meta-llama/Llama-3.1-8B_x"));
  for (const char* s : {"/abs/path", "./rel", ".hidden/x", "a/b/c", "model", "a/", "/a", "a/..", "a b/c", "a/c@main"})
    EXPECT_FALSE(looks_like_model_id(s)) << s;
}

TEST(ModelLocator, RefsMainPicksTheSnapshot) {
  TempDir d;
  ScopedEnv cache("HF_HUB_CACHE", d.path.string());
  add_snapshot(d.path.string(), "models--acme--tiny", "1111");
  const std::string want = add_snapshot(d.path.string(), "models--acme--tiny", "2222");
  fs::create_directories(d.path / "models--acme--tiny" / "refs");
  write_file(d / "models--acme--tiny/refs/main", "2222\n");
  EXPECT_EQ(resolve_model_path("acme/tiny"), want);
  EXPECT_EQ(llmq::test::read_file(want + "/config.json"), "{\"commit\": \"2222\"}");  // through the symlink
  EXPECT_EQ(hf_cache_model_id(want), "acme/tiny");
  EXPECT_EQ(model_short_name(want), "tiny");
  EXPECT_EQ(model_short_name(want + "/"), "tiny");
  EXPECT_EQ(model_output_base(want), "tiny");  // outputs never go into the cache

  // refs/main naming a snapshot that is not there: one line naming the ref.
  write_file(d / "models--acme--tiny/refs/main", "3333");
  EXPECT_NE(thrown_message([] { resolve_model_path("acme/tiny"); }).find("refs/main: names commit 3333"), std::string::npos);
}

TEST(ModelLocator, OneSnapshotWithoutRefs) {
  TempDir d;
  ScopedEnv cache("HF_HUB_CACHE", d.path.string());
  const std::string want = add_snapshot(d.path.string(), "models--acme--tiny", "abcd");
  EXPECT_EQ(resolve_model_path("acme/tiny"), want);
  add_snapshot(d.path.string(), "models--acme--tiny", "ef01");  // two and no ref: ambiguous
  const std::string e = thrown_message([] { resolve_model_path("acme/tiny"); });
  EXPECT_NE(e.find("holds 2 snapshots of acme/tiny and no refs/main"), std::string::npos) << e;
}

TEST(ModelLocator, PathsWinAndMissingIdsFail) {
  TempDir d;
  ScopedEnv cache("HF_HUB_CACHE", (d.path / "hub").string());
  // An existing relative path shaped like an id is a path.
  const fs::path cwd = fs::current_path();
  fs::create_directories(d.path / "acme" / "tiny");
  fs::current_path(d.path);
  EXPECT_EQ(resolve_model_path("acme/tiny"), "acme/tiny");
  fs::current_path(cwd);
  // Not an id and not a path: unchanged, for the loader to name.
  EXPECT_EQ(resolve_model_path("/no/such/dir"), "/no/such/dir");
  EXPECT_EQ(resolve_model_path("missing"), "missing");
  EXPECT_EQ(thrown_message([] { resolve_model_path("Qwen/Qwen3-4B"); }),
            "MODEL 'Qwen/Qwen3-4B' is neither a path nor a model in the Hugging Face cache (looked in " +
                (d.path / "hub" / "models--Qwen--Qwen3-4B").string() + "); no network access is used");
  EXPECT_EQ(hf_cache_model_id("/a/b/c"), std::nullopt);
  EXPECT_EQ(model_output_base("/a/model-dir/"), "/a/model-dir/");
  EXPECT_EQ(model_short_name("/a/model-dir/"), "model-dir");
}
