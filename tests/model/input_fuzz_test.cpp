// A deterministic fuzz of the readers of a checkpoint's files (issue 21):
// safetensors headers, config.json and tokenizer.json, each mutated by byte
// flips, JSON punctuation and digits dropped in, and truncations, with a fixed
// seed. Every input is either read (and then used without a crash: weights
// converted, a forward pass run, text encoded) or refused with llmq::Error
// naming the file; any other exception is a failure reported with its seed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/model_loader.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

using namespace llmq;
namespace fs = std::filesystem;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// One to three edits inside [0, limit), or a truncation.
std::string mutate(std::string s, size_t limit, std::mt19937& rng) {
  static const std::string kJsonish = "\"{}[],:-.0123456789eE \\";
  limit = std::min(limit, s.size());
  if (rng() % 8 == 0) return s.substr(0, rng() % limit);
  const int edits = 1 + int(rng() % 3);
  for (int k = 0; k < edits; ++k) {
    const size_t at = rng() % limit;
    s[at] = rng() % 2 ? char(rng()) : kJsonish[rng() % kJsonish.size()];
  }
  return s;
}

// Runs `use` on each of `iterations` mutations of `original` written to
// `path`; counts refusals. `mutable_bytes` bounds where edits land.
template <typename Use>
int fuzz(const std::string& original, size_t mutable_bytes, const std::string& path, int iterations, uint32_t seed,
         const Use& use) {
  std::mt19937 rng(seed);
  int refused = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  for (int i = 0; i < iterations && std::chrono::steady_clock::now() < deadline; ++i) {
    write_all(path, mutate(original, mutable_bytes, rng));
    try {
      use();
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find(fs::path(path).filename().string()), std::string::npos)
          << "iteration " << i << " (seed " << seed << "): the message does not name the file: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "iteration " << i << " (seed " << seed << "): " << typeid(e).name() << ": " << e.what();
    }
  }
  return refused;
}

// A model directory whose files link to tiny-llama's, except the one under test.
void link_model(const std::string& dir, const std::string& except) {
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    if (except != f) fs::create_symlink(fs::path(test::model_dir("tiny-llama")) / f, fs::path(dir) / f);
}

}  // namespace

TEST(InputFuzz, SafetensorsHeaders) {
  test::TempDir d;
  const std::string good = d / "good.safetensors";
  {
    SafetensorsWriter w(good);
    w.set_metadata("format", "pt");
    const std::vector<uint16_t> a(6 * 8, 0x3f80);  // bf16 1.0
    const std::vector<float> b(5, 2.0f);
    w.declare("a.weight", DType::BF16, {6, 8});
    w.declare("b.bias", DType::F32, {5});
    w.write("a.weight", a.data(), a.size() * 2);
    w.write("b.bias", b.data(), b.size() * 4);
    w.finish();
  }
  const std::string bytes = read_all(good);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const std::string path = d / "model.safetensors";
  const int refused = fuzz(bytes, size_t(8 + header_len), path, 600, 7, [&] {
    SafetensorsFile f(path);
    for (const auto& [name, tv] : f.tensors())  // whatever was accepted converts from inside the file
      if (dtype_is_float16_or_32(tv.dtype)) {
        std::vector<float> v = tv.to_f32();
        ASSERT_EQ(int64_t(v.size()), tv.numel());
      }
  });
  EXPECT_GT(refused, 100);  // the edits did reach the checks
}

TEST(InputFuzz, ConfigJson) {
  const std::string original = read_all(test::model_dir("tiny-llama") + "/config.json");
  test::TempDir d;
  link_model(d.path.string(), "config.json");
  const std::string path = d / "config.json";
  const int refused = fuzz(original, original.size(), path, 300, 11, [&] {
    LoadedModel m = load_model(d.path.string(), {.lazy = true});
    Transformer t(m.weights);  // an accepted config must run
    KvCache c = t.make_cache(4);
    std::vector<int32_t> ids = {1, 2, 3, 4};
    std::vector<float> logits;
    t.forward(ids.data(), 4, c, logits);
  });
  EXPECT_GT(refused, 30);
}

TEST(InputFuzz, TokenizerJson) {
  const std::string original = read_all(test::model_dir("tiny-llama") + "/tokenizer.json");
  test::TempDir d;
  link_model(d.path.string(), "tokenizer.json");
  const std::string path = d / "tokenizer.json";
  // Edits land in the first 64 KB (model type, pre-tokenizer, added tokens,
  // the start of the vocabulary), truncations there too.
  const int refused = fuzz(original, 64 << 10, path, 150, 13, [&] {
    std::unique_ptr<Tokenizer> tok = Tokenizer::load(d.path.string());
    const std::vector<int32_t> ids = tok->encode("Hello world, 123 \xc3\xa9t\xc3\xa9!", true);
    (void)tok->decode(ids);
  });
  EXPECT_GT(refused, 5);
}
