// MODEL arguments given as Hugging Face ids: resolved in the local cache
// ($HF_HUB_CACHE), snapshot files being symlinks into blobs/, as huggingface_hub
// lays them out. No network access.
#include <filesystem>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;
namespace fs = std::filesystem;

namespace {

const std::string kTiny = model_dir("tiny-llama");

// <cache>/models--acme--tiny-llama with snapshots/<commit>/<file> -> ../../blobs/<commit>-<file>.
struct FakeCache {
  TempDir d;
  fs::path repo = d.path / "hub" / "models--acme--tiny-llama";

  std::string add_snapshot(const std::string& commit, const std::string& model_type = "") {
    const fs::path snap = repo / "snapshots" / commit;
    fs::create_directories(snap);
    fs::create_directories(repo / "blobs");
    for (auto& e : fs::directory_iterator(kTiny)) {
      const std::string name = e.path().filename().string();
      if (name.find("reference") == 0) continue;
      const fs::path blob = repo / "blobs" / (commit + "-" + name);
      fs::copy_file(e.path(), blob);
      fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
      fs::create_symlink(fs::path("../../blobs") / blob.filename(), snap / name);
    }
    if (!model_type.empty()) {
      auto cfg = nlohmann::json::parse(read_file((snap / "config.json").string()));
      cfg["model_type"] = model_type;
      write_file((snap / "config.json").string(), cfg.dump());  // through the link, into the blob
    }
    return snap.string();
  }
  void set_ref(const std::string& commit) {
    fs::create_directories(repo / "refs");
    write_file((repo / "refs" / "main").string(), commit);
  }
  std::string env() const { return "HF_HUB_CACHE=" + q((d.path / "hub").string()); }
  std::map<std::string, uintmax_t> files() const {
    std::map<std::string, uintmax_t> m;
    for (auto& e : fs::recursive_directory_iterator(repo))
      m[e.path().string()] = e.is_regular_file() ? e.file_size() : 0;
    return m;
  }
};

}  // namespace

TEST(ModelIdCli, InspectResolvesTheIdThroughRefsMain) {
  FakeCache c;
  c.add_snapshot("0000aaaa", "gpt_neox");  // an older commit that would not load
  const std::string good = c.add_snapshot("1111bbbb");
  c.set_ref("1111bbbb");
  auto r = run_cli("inspect acme/tiny-llama --format json", c.env());
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"], good);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["parameters"], reference("tiny-llama")["params"]);

  c.set_ref("0000aaaa");  // the ref decides
  r = run_cli("inspect acme/tiny-llama", c.env());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown architecture"), std::string::npos) << r.err;
}

TEST(ModelIdCli, MissingIdIsOneLineAndExit1) {
  FakeCache c;
  const std::string looked = (c.d.path / "hub" / "models--Qwen--Qwen3-4B").string();
  for (const char* args : {"inspect Qwen/Qwen3-4B", "quality compare Qwen/Qwen3-4B Qwen/Qwen3-4B -f x.txt"}) {
    auto r = run_cli(args, c.env());
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_EQ(r.err, "error: MODEL 'Qwen/Qwen3-4B' is neither a path nor a model in the Hugging Face cache (looked in " +
                         looked + "); no network access is used\n");
  }
  auto r = run_cli("inspect Qwen/Qwen3-4B --format json", c.env());
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(nlohmann::json::parse(r.out)["exit_code"], 1);
}

TEST(ModelIdCli, OutputsGoBesideTheCallerNotIntoTheCache) {
  FakeCache c;
  c.add_snapshot("1111bbbb");  // the only snapshot, no refs/main
  const auto before = c.files();
  // The weights' blob is an input: writing over it is refused before any work.
  const std::string blob = (c.repo / "blobs" / "1111bbbb-model.safetensors").string();
  auto r = run_cli("quantize acme/tiny-llama gguf -q Q8_0 --quiet -o " + q(blob), c.env());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("refusing"), std::string::npos) << r.err;
  // The default output is named after the model, in the current directory.
  TempDir work;
  r = run_cli("quantize acme/tiny-llama gguf -q Q8_0 --quiet", "cd " + q(work.path.string()) + " && " + c.env());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(work / "tiny-llama-Q8_0.gguf"));
  EXPECT_EQ(c.files(), before);
}
