// NaN and Inf in a checkpoint's weights are refused where they would be
// quantized (GGUF export, the HF methods), with one line naming the file and
// tensor, exit 1 and no output; --allow-nonfinite lets them through. A model
// that computes NaN gives an error from perplexity, not "PPL = nan".
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;
namespace fs = std::filesystem;

namespace {

constexpr const char* kTensor = "model.layers.1.self_attn.o_proj.weight";

// A copy of tiny-llama whose o_proj of layer 1 holds one bf16 NaN.
struct NanModel {
  TempDir d;
  std::string dir = d / "nan-model";
  NanModel() {
    fs::create_directories(dir);
    for (auto& e : fs::directory_iterator(model_dir("tiny-llama"))) fs::copy_file(e.path(), dir + "/" + e.path().filename().string());
    const std::string path = dir + "/model.safetensors";
    std::string bytes = read_file(path);
    uint64_t hlen = 0;
    std::memcpy(&hlen, bytes.data(), 8);
    const nlohmann::json h = nlohmann::json::parse(bytes.substr(8, hlen));
    EXPECT_EQ(h.at(kTensor).at("dtype"), "BF16");
    const size_t at = 8 + hlen + h.at(kTensor).at("data_offsets")[0].get<size_t>() + 2 * 5;  // element 5
    bytes[at] = char(0xC0);  // bf16 0x7FC0, little-endian: a quiet NaN
    bytes[at + 1] = char(0x7F);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
};

TEST(NonFiniteCli, QuantizersRefuseNanWeightsUnlessAllowed) {
  NanModel m;
  for (const std::string& how : {std::string("gguf -q Q8_0"), std::string("rtn"), std::string("fp8")}) {
    SCOPED_TRACE(how);
    const std::string out = m.d / ("out-" + how.substr(0, 3));
    const CliResult r = run_cli("quantize " + q(m.dir) + " " + how + " -o " + q(out) + " --quiet");
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find(kTensor), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("non-finite"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(m.dir), std::string::npos) << r.err;  // names the checkpoint
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out));
  }
  const CliResult ok = run_cli("quantize " + q(m.dir) + " gguf -q Q8_0 -o " + q(m.d / "allowed.gguf") + " --quiet --allow-nonfinite");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(fs::exists(m.d / "allowed.gguf"));
}

TEST(NonFiniteCli, PerplexityOfANanModelIsAnError) {
  NanModel m;
  const CliResult r = run_cli("quality perplexity " + q(m.dir) + " --data " + q(data_file("wikitext2_test.txt")) +
                              " --chunks 1 --ctx 64 --quiet");
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("non-finite"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(m.dir), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("PPL"), std::string::npos) << r.out;
}

}  // namespace
