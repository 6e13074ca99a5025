// `llm-quantize synth`: options over presets, JSON output, exit codes.
#include <filesystem>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;
namespace fs = std::filesystem;

// Runs `synth ARGS --format json`: the object it printed, null (and a failure) when it did not succeed.
static nlohmann::json synth_json(const std::string& args) {
  auto r = run_cli("synth " + args + " --format json");
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
}

// Every key of `want` has its value in `got`.
static void expect_fields(const nlohmann::json& got, const nlohmann::json& want) {
  for (const auto& [key, value] : want.items()) EXPECT_EQ(got[key], value) << key;
}

TEST(SynthCli, PresetWithOverridesJson) {
  TempDir d;
  const auto j = synth_json("-o " + q(d / "m") + " --preset mixtral-tiny --layers 1 --experts 4 --seed 3");
  ASSERT_FALSE(j.is_null());
  expect_fields(j, {{"architecture", "mixtral"}, {"layers", 1}, {"experts", 4}, {"experts_per_token", 2},
                    {"hidden_size", 256}, {"seed", 3}, {"shards", {"model.safetensors"}}});
  EXPECT_EQ(j["size_bytes"].get<uint64_t>(), fs::file_size(d / "m/model.safetensors"));
  // H=256, 4 heads/2 kv of 64, 4 experts of 512: embed + head + 1 layer + final norm.
  const int64_t H = 256, layer = 2 * H + H * 256 + 2 * H * 128 + 256 * H + 4 * H + 4 * 3 * H * 512;
  EXPECT_EQ(j["parameters"], 2 * 8192 * H + layer + H);

  auto i = run_cli("inspect " + q(d / "m") + " --format json");
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_EQ(nlohmann::json::parse(i.out)["parameters"], j["parameters"]);

  // An existing -o is refused (exit 1, the path named) and left as it was.
  auto again = run_cli("synth -o " + q(d / "m") + " --preset mixtral-tiny --layers 1");
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find(d / "m"), std::string::npos) << again.err;
  EXPECT_EQ(nlohmann::json::parse(run_cli("inspect " + q(d / "m") + " --format json").out)["experts"], 4);
}

TEST(SynthCli, Wide70bZerosSharded) {
  TempDir d;
  const auto j = synth_json("-o " + q(d / "w") + " --preset llama-70b --layers 1 --init zeros --max-shard-size 500MB");
  ASSERT_FALSE(j.is_null());
  expect_fields(j, {{"init", "zeros"}, {"hidden_size", 8192}, {"intermediate_size", 28672}, {"kv_heads", 8}});
  EXPECT_GE(j["shards"].size(), 5u);
  EXPECT_TRUE(fs::exists(d / "w/model.safetensors.index.json"));
  EXPECT_LT(j["disk_bytes"].get<double>(), j["size_bytes"].get<double>() / 1000);
}

TEST(SynthCli, UsageErrors) {
  TempDir d;
  EXPECT_EQ(run_cli("synth").code, 2);                                             // no -o
  EXPECT_EQ(run_cli("synth -o " + q(d / "x") + " --preset nope").code, 2);         // unknown preset
  EXPECT_EQ(run_cli("synth -o " + q(d / "x") + " --dtype f8").code, 2);            // unknown dtype
  EXPECT_EQ(run_cli("synth -o " + q(d / "x") + " --max-shard-size lots").code, 2);  // not a size
  auto r = run_cli("synth -o " + q(d / "x") + " --hidden 64 --layers 1 --heads 4");  // no --ffn, no --vocab
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--vocab"), std::string::npos) << r.err;
  r = run_cli("synth -o " + q(d / "x") + " --preset llama-7b --vocab 100");  // fewer rows than the tokenizer's tokens
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("smaller than the tokenizer"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "x"));
}
