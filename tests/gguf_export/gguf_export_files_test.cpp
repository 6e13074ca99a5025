// What the exporter does with files: dry runs write nothing, a failure in
// the middle leaves no file, the input is never overwritten, the CLI's JSON
// output parses and describes the file it wrote.
#include <filesystem>

#include <gtest/gtest.h>

#include "common/run_cli.h"
#include "export/gguf/gguf_exporter.h"
#include "gguf_export/gguf_export_support.h"
#include "io/gguf/gguf_reader.h"
#include "util/error.h"

using namespace llmq;
namespace fs = std::filesystem;

namespace {

size_t files_in(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

// A writable copy of tiny-llama, so refusals are tested without risk to the fixture.
std::string copy_of_tiny_llama(const test::TempDir& d) {
  const std::string dst = d / "tiny-llama";
  fs::copy(test::model_dir("tiny-llama"), dst, fs::copy_options::recursive);
  for (const auto& e : fs::directory_iterator(dst))
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  return dst;
}

}  // namespace

TEST(GgufExportFiles, DryRunWritesNothingAndReportsSizes) {
  test::TempDir d;
  GgufExportOptions opt;
  opt.quant.preset = GgufPreset::Q4_K_M;
  opt.output = d / "never.gguf";
  opt.dry_run = true;
  size_t calls = 0;
  GgufExportResult r = export_gguf(test::model_dir("tiny-llama"), opt, [&](size_t, size_t, const auto&) { ++calls; });
  EXPECT_EQ(files_in(d.path.string()), 0u);
  EXPECT_EQ(calls, r.tensors.size());
  EXPECT_EQ(r.file_bytes, 0u);
  // Sizes are what the real file holds.
  GgufReader g(test::exported_gguf("tiny-llama", GgufPreset::Q4_K_M));
  ASSERT_EQ(g.tensors().size(), r.tensors.size());
  size_t bytes = 0;
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const GgufTensorInfo& t = g.tensor(r.tensors[i].name);
    EXPECT_EQ(t.type, r.tensors[i].type) << t.name;
    EXPECT_EQ(t.nbytes, r.tensors[i].bytes) << t.name;
    bytes += t.nbytes;
  }
  EXPECT_EQ(r.tensor_bytes, bytes);
  EXPECT_EQ(r.n_elements, 7'342'336);  // tiny-llama: 2 x 8192 x 256 + 4 x 786944 + 256
  EXPECT_GT(r.bpw(), 4.5);
  EXPECT_LT(r.bpw(), 6.0);
}

TEST(GgufExportFiles, FailureMidWriteLeavesNoFile) {
  test::TempDir d;
  GgufExportOptions opt;
  opt.quant.preset = GgufPreset::Q8_0;
  opt.output = d / "partial.gguf";
  size_t written = 0;
  EXPECT_THROW(export_gguf(test::model_dir("tiny-llama"), opt,
                           [&](size_t i, size_t, const auto&) {
                             written = i + 1;
                             if (i == 10) throw Error("simulated failure after 11 tensors");
                           }),
               Error);
  EXPECT_EQ(written, 11u);
  EXPECT_EQ(files_in(d.path.string()), 0u);  // neither the output nor a temporary
}

TEST(GgufExportFiles, NeverOverwritesTheInput) {
  test::TempDir d;
  const std::string model = copy_of_tiny_llama(d);
  const auto before = fs::file_size(model + "/model.safetensors");
  GgufExportOptions opt;
  opt.quant.preset = GgufPreset::Q8_0;
  for (const std::string& target : {model, model + "/model.safetensors", model + "/tokenizer.json", model + "/config.json"}) {
    opt.output = target;
    EXPECT_THROW(export_gguf(model, opt), Error) << target;
  }
  EXPECT_EQ(fs::file_size(model + "/model.safetensors"), before);
  EXPECT_NO_THROW(GgufReader(test::exported_gguf("tiny-llama", GgufPreset::Q8_0)));
  // Nor a new file inside the model directory: outputs never lie inside an input.
  opt.output = model + "/inside.gguf";
  EXPECT_THROW(export_gguf(model, opt), Error);
  EXPECT_FALSE(fs::exists(opt.output));
  opt.output = d / "beside.gguf";
  EXPECT_NO_THROW(export_gguf(model, opt));
  EXPECT_TRUE(fs::exists(opt.output));
}

TEST(GgufExportFiles, DefaultOutputPathIsBesideTheModel) {
  EXPECT_EQ(default_gguf_output_path("/a/b/tiny-llama", GgufPreset::Q4_K_M), "/a/b/tiny-llama-Q4_K_M.gguf");
  EXPECT_EQ(default_gguf_output_path("/a/b/tiny-llama/", GgufPreset::Q8_0), "/a/b/tiny-llama-Q8_0.gguf");
}

TEST(GgufExportCli, JsonOutputParsesAndDescribesTheFile) {
  test::TempDir d;
  const std::string out = d / "t.gguf";
  auto r = test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " gguf -q Q5_K_M -o " + test::q(out) +
                         " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "Q5_K_M");
  EXPECT_EQ(j["output"], out);
  EXPECT_EQ(j["file_bytes"].get<size_t>(), fs::file_size(out));
  EXPECT_EQ(j["tensors"].size(), 39u);
  EXPECT_GT(j["bits_per_weight"].get<double>(), 5.0);
  GgufReader g(out);
  EXPECT_EQ(g.get<uint32_t>("general.file_type"), 17u);

  // --dry-run through the CLI: a table, no file.
  const std::string none = d / "none.gguf";
  r = test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " gguf -q Q2_K --dry-run -o " + test::q(none));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(none));
  EXPECT_NE(r.out.find("blk.0.attn_v.weight"), std::string::npos);
  EXPECT_NE(r.out.find("Q3_K"), std::string::npos);

  // The written file evaluates through `quality perplexity`.
  r = test::run_cli("quality perplexity " + test::q(out) + " -f " + test::q(test::data_file("wikitext2_test.txt")) +
                    " --chunks 1 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(nlohmann::json::parse(r.out)["perplexity"].get<double>(), 1.0);

  // Usage errors: unknown preset, unknown format, bad --tensor-type.
  EXPECT_EQ(test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " gguf -q Q9_K --dry-run").code, 1);
  EXPECT_EQ(test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " onnx -q Q4_0 --dry-run").code, 2);
  EXPECT_EQ(test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) +
                          " gguf -q Q4_0 --dry-run --tensor-type attn_q").code, 1);
}
