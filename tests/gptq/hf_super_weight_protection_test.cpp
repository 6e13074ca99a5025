// --protect-super-weights for gptq / awq / compressed-tensors / mlx: the
// linear holding a listed super weight is written unquantized (every format's
// config skips it), the super weight loads back bit for bit, and the reported
// extra bytes are the size difference against the unprotected checkpoint.
#include <bit>
#include <filesystem>

#include <gtest/gtest.h>

#include "calibration/super_weights.h"
#include "common/run_cli.h"
#include "export/hf/hf_tensor_encoders.h"
#include "gptq_test_support.h"
#include "io/hf_checkpoint.h"
#include "io/safetensors.h"
#include "util/json_file.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;
using test::q;

// The tiny model has no spike 10x the median; at 1.5x analyze lists layer 0's down_proj peak.
std::string make_super_weight_list(const test::TempDir& tmp) {
  const std::string imatrix = tmp / "t.imatrix";
  const test::CliResult r = test::run_cli("analyze " + q(test::model_dir("tiny-llama")) +
                                          " --identify-super-weights --super-weight-ratio 1.5 --calibration-samples 4 -c 64"
                                          " --quiet -o " + q(imatrix));
  EXPECT_EQ(r.code, 0) << r.err;
  return super_weights_path_for(imatrix);
}

uint64_t tensor_bytes(const std::string& dir) {
  SafetensorsFile st(dir + "/model.safetensors");
  uint64_t n = 0;
  for (const auto& [name, view] : st.tensors()) n += view.nbytes;
  return n;
}

bool lists(const nlohmann::json& list, const std::string& s) {
  return list.is_array() && std::find(list.begin(), list.end(), s) != list.end();
}

void expect_skipped_in_config(HfQuantFormat f, const std::string& dir, const std::string& module) {
  const nlohmann::json cfg = read_json_file(dir + "/config.json");
  const nlohmann::json& qc = cfg["quantization_config"];
  switch (f) {
    case HfQuantFormat::Gptq: EXPECT_TRUE(qc["dynamic"].contains("-:" + anchored_regex(module))) << qc.dump(); break;
    case HfQuantFormat::Awq: EXPECT_TRUE(lists(qc["modules_to_not_convert"], module)) << qc.dump(); break;
    case HfQuantFormat::CompressedTensors: EXPECT_TRUE(lists(qc["ignore"], module)) << qc.dump(); break;
    case HfQuantFormat::Mlx: EXPECT_EQ(cfg["quantization"][module], false) << cfg["quantization"].dump(); break;
  }
}

TEST(HfSuperWeights, ProtectedLinearIsExactSkippedAndCostsWhatItSays) {
  test::TempDir tmp;
  const std::string list = make_super_weight_list(tmp);
  const std::vector<SuperWeight> sws = read_super_weights(list);
  ASSERT_FALSE(sws.empty());
  const SuperWeight sw = sws[0];
  ASSERT_EQ(sw.tensor, "model.layers.0.mlp.down_proj.weight");
  const std::string module = "model.layers.0.mlp.down_proj";
  LoadedModel src = load_model(test::model_dir("tiny-llama"));
  const float source_value = src.weights->layers[0].down.data[size_t(sw.row * 768 + sw.col)];
  EXPECT_EQ(source_value, sw.value);
  register_hf_quant_loaders();

  // rtn in every layout; gptq and awq (calibrated, where AWQ rescales neighbours) in their own.
  const std::vector<std::pair<std::string, HfQuantFormat>> runs = {
      {"rtn", HfQuantFormat::Gptq}, {"rtn", HfQuantFormat::Awq}, {"rtn", HfQuantFormat::CompressedTensors},
      {"rtn", HfQuantFormat::Mlx},  {"gptq", HfQuantFormat::Gptq}, {"awq", HfQuantFormat::Awq}};
  for (const auto& [method, f] : runs) {
    const std::string name = method + "-" + hf_quant_format_name(f);
    SCOPED_TRACE(name);
    const std::string base = tmp / (name + "-plain"), prot = tmp / (name + "-protected");
    const std::string common = " " + method + " --format-out " + hf_quant_format_name(f) +
                               " --samples 2 --ctx 64 --awq-grid 4 --quiet --format json -o ";
    const test::CliResult rb = test::run_cli("quantize " + q(test::model_dir("tiny-llama")) + common + q(base));
    ASSERT_EQ(rb.code, 0) << rb.err;
    const test::CliResult rp = test::run_cli("quantize " + q(test::model_dir("tiny-llama")) + common + q(prot) +
                                             " --protect-super-weights --super-weights " + q(list));
    ASSERT_EQ(rp.code, 0) << rp.err;
    const nlohmann::json j = nlohmann::json::parse(rp.out)["super_weight_protection"];
    ASSERT_EQ(j["linears"].size(), 1u) << j.dump();
    const nlohmann::json& l = j["linears"][0];
    EXPECT_EQ(l["weight"], sw.tensor);
    EXPECT_EQ(l["super_weights"][0]["row"], sw.row);
    EXPECT_EQ(l["super_weights"][0]["col"], sw.col);
    EXPECT_TRUE(l["exact"].get<bool>());

    // Written unquantized, in the format's floating-point dtype.
    SafetensorsFile st(prot + "/model.safetensors");
    ASSERT_NE(st.find(sw.tensor), nullptr);
    EXPECT_EQ(st.find(sw.tensor)->dtype, unquantized_dtype(f, DType::BF16));
    EXPECT_EQ(st.find(module + ".scales"), nullptr);
    EXPECT_EQ(st.find(module + ".weight_packed"), nullptr);
    expect_skipped_in_config(f, prot, module);

    // The super weight reloads bit for bit.
    const LoadedModel back = load_model(prot);
    const float got = back.weights->layers[0].down.data[size_t(sw.row * 768 + sw.col)];
    EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(source_value)) << got << " vs " << source_value;

    // Extra bytes: the tensor data of the two checkpoints differ by exactly that.
    const int64_t diff = int64_t(tensor_bytes(prot)) - int64_t(tensor_bytes(base));
    EXPECT_EQ(j["extra_bytes"].get<int64_t>(), diff);
    EXPECT_EQ(l["extra_bytes"].get<int64_t>(), diff);
    EXPECT_GT(diff, 0);
  }
}

TEST(HfSuperWeights, MissingListIsAOneLineError) {
  test::TempDir tmp;
  const std::string model = q(test::model_dir("tiny-llama"));
  const std::string missing = tmp / "none.superweights.json";
  const std::string out = tmp / "q";
  for (const std::string& args : {" rtn --protect-super-weights --super-weights " + q(missing),
                                  " rtn --protect-super-weights --imatrix " + q(tmp / "none"),
                                  std::string(" rtn --protect-super-weights")}) {
    SCOPED_TRACE(args);
    const test::CliResult e = test::run_cli("quantize " + model + args + " -o " + q(out));
    EXPECT_EQ(e.code, 1);
    EXPECT_EQ(std::count(e.err.begin(), e.err.end(), '\n'), 1) << e.err;
    EXPECT_FALSE(fs::exists(out));
  }
  EXPECT_NE(test::run_cli("quantize " + model + " rtn --protect-super-weights --super-weights " + q(missing) + " -o " + q(out))
                .err.find(missing),
            std::string::npos);
}

}  // namespace
}  // namespace llmq
