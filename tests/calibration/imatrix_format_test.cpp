// Importance-matrix files: both llama.cpp formats round-trip, and the
// reader's normalization is llama-quantize's.
#include <cstring>
#include <fstream>

#include <limits>

#include <gtest/gtest.h>

#include "calibration/imatrix_file.h"
#include "common/fixtures.h"
#include "io/gguf/gguf_reader.h"
#include "util/error.h"

namespace llmq {
namespace {

using test::TempDir;

// A small model's worth of entries: dense q (width 4) and stacked experts
// (3 x width 4), expert 1 never routed.
ImatrixData sample() {
  ImatrixData d;
  d.datasets = {"calib.txt"};
  d.chunk_count = 3;
  d.chunk_size = 10;
  d.entries["blk.0.attn_q.weight"] = {{4, 8, 12, 16}, {30}};
  d.entries["blk.0.ffn_gate_inp.weight"] = {{4, 8, 12, 16}, {30}};
  d.entries["blk.0.ffn_up_exps.weight"] = {{2, 4, 6, 8, 0, 0, 0, 0, 9, 27, 3, 6}, {2, 0, 3}};
  return d;
}

TEST(ImatrixFormat, GgufRoundTripIsExact) {
  TempDir dir;
  const ImatrixData d = sample();
  write_imatrix_gguf(d, dir / "m.imatrix");
  const ImatrixData r = read_imatrix(dir / "m.imatrix");
  EXPECT_FALSE(r.legacy);
  EXPECT_EQ(r.datasets, d.datasets);
  EXPECT_EQ(r.chunk_count, 3);
  EXPECT_EQ(r.chunk_size, 10);
  EXPECT_EQ(r.model_fingerprint, "");
  ASSERT_EQ(r.entries.size(), d.entries.size());
  for (const auto& [name, e] : d.entries) {
    EXPECT_EQ(r.entries.at(name).sums, e.sums) << name;
    EXPECT_EQ(r.entries.at(name).counts, e.counts) << name;
  }
}

// Ours carry the fingerprint of the model they were computed on, under a key
// of our own (llama-quantize ignores it); files without one get no such key.
TEST(ImatrixFormat, ModelFingerprintRoundTripsUnderItsOwnKey) {
  TempDir dir;
  ImatrixData d = sample();
  write_imatrix_gguf(d, dir / "plain.imatrix");
  EXPECT_EQ(GgufReader(dir / "plain.imatrix").find("llmq.model_fingerprint"), nullptr);
  d.model_fingerprint = "v1:00112233445566ff";
  write_imatrix_gguf(d, dir / "m.imatrix");
  EXPECT_EQ(GgufReader(dir / "m.imatrix").get<std::string>("llmq.model_fingerprint"), "v1:00112233445566ff");
  EXPECT_EQ(read_imatrix(dir / "m.imatrix").model_fingerprint, "v1:00112233445566ff");
  write_imatrix_dat(d, dir / "m.dat");  // the legacy format has no place for it
  EXPECT_EQ(read_imatrix(dir / "m.dat").model_fingerprint, "");
}

TEST(ImatrixFormat, GgufLayoutIsLlamaCpps) {
  TempDir dir;
  write_imatrix_gguf(sample(), dir / "m.gguf");
  GgufReader g(dir / "m.gguf");
  EXPECT_EQ(g.get<std::string>("general.type"), "imatrix");
  EXPECT_EQ(g.get<std::vector<std::string>>("imatrix.datasets"), std::vector<std::string>{"calib.txt"});
  EXPECT_EQ(g.get<uint32_t>("imatrix.chunk_count"), 3u);
  EXPECT_EQ(g.get<uint32_t>("imatrix.chunk_size"), 10u);
  const GgufTensorInfo& s = g.tensor("blk.0.ffn_up_exps.weight.in_sum2");
  EXPECT_EQ(s.shape, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(s.type, ggml::GgmlType::F32);
  EXPECT_EQ(g.tensor("blk.0.ffn_up_exps.weight.counts").shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(g.tensor("blk.0.attn_q.weight.in_sum2").shape, (std::vector<int64_t>{4}));
  float counts[3];
  std::memcpy(counts, g.tensor("blk.0.ffn_up_exps.weight.counts").data, sizeof counts);
  EXPECT_EQ(counts[2], 3.0f);
  // Entries sorted by name, sums before counts.
  EXPECT_EQ(g.tensors().front().name, "blk.0.attn_q.weight.in_sum2");
  EXPECT_EQ(g.tensors()[1].name, "blk.0.attn_q.weight.counts");
}

TEST(ImatrixFile, ImportanceIsMeanSquarePerExpert) {
  ImatrixFile f(sample());
  const std::vector<float>* q = f.importance("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(*q, (std::vector<float>{4 / 30.f, 8 / 30.f, 12 / 30.f, 16 / 30.f}));
  ASSERT_NE(f.importance("blk.0.attn_q.weight", 0), nullptr);
  EXPECT_EQ(*f.importance("blk.0.attn_q.weight", 0), *q);
  EXPECT_EQ(f.importance("blk.0.attn_q.weight", 1), nullptr);
  EXPECT_EQ(f.importance("blk.9.attn_q.weight"), nullptr);
  EXPECT_EQ(f.n_matrices("blk.0.ffn_up_exps.weight"), 3);
  EXPECT_EQ(*f.importance("blk.0.ffn_up_exps.weight", 0), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(*f.importance("blk.0.ffn_up_exps.weight", 1), (std::vector<float>{1, 1, 1, 1}));  // no tokens: ones
  EXPECT_EQ(*f.importance("blk.0.ffn_up_exps.weight", 2), (std::vector<float>{3, 9, 1, 2}));
  EXPECT_EQ(*f.importance("blk.0.ffn_up_exps.weight"), (std::vector<float>{1, 2, 3, 4, 1, 1, 1, 1, 3, 9, 1, 2}));
  EXPECT_EQ(f.tokens("blk.0.ffn_up_exps.weight", 2), 3);
}

TEST(ImatrixFormat, DatRoundTripKeepsImportance) {
  TempDir dir;
  const ImatrixData d = sample();
  write_imatrix_dat(d, dir / "m.dat");
  const ImatrixData r = read_imatrix(dir / "m.dat");
  EXPECT_TRUE(r.legacy);
  EXPECT_EQ(r.chunk_count, 3);
  EXPECT_EQ(r.datasets, std::vector<std::string>{"calib.txt"});
  // ncall = ceil(max count / chunk size): 3 for q (30 / 10), 1 for the experts (3 / 10).
  EXPECT_EQ(r.entries.at("blk.0.attn_q.weight").counts, std::vector<int64_t>{3});
  EXPECT_EQ(r.entries.at("blk.0.ffn_up_exps.weight").counts, std::vector<int64_t>{1});

  ImatrixFile orig(d), back(dir / "m.dat");
  EXPECT_TRUE(back.is_legacy());
  for (const auto& name : orig.names()) {
    ASSERT_NE(back.importance(name), nullptr) << name;
    const auto& a = *orig.importance(name);
    const auto& b = *back.importance(name);
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-6f * a[j]) << name;
  }
  // The legacy format stores no expert count: it is inferred from the layer's input width.
  EXPECT_EQ(back.n_matrices("blk.0.ffn_up_exps.weight"), 3);
  EXPECT_EQ(*back.importance("blk.0.ffn_up_exps.weight", 2), (std::vector<float>{3, 9, 1, 2}));

  // dat -> gguf -> dat keeps the values.
  write_imatrix_gguf(read_imatrix(dir / "m.dat"), dir / "m2.gguf");
  write_imatrix_dat(read_imatrix(dir / "m2.gguf"), dir / "m3.dat");
  ImatrixFile again(dir / "m3.dat", 3);
  for (const auto& name : orig.names())
    for (size_t j = 0; j < orig.importance(name)->size(); ++j)
      EXPECT_NEAR((*again.importance(name))[j], (*orig.importance(name))[j], 1e-5f * (*orig.importance(name))[j]);
}

TEST(ImatrixFormat, MalformedFilesNameFileAndProblem) {
  TempDir dir;
  write_imatrix_dat(sample(), dir / "m.dat");
  std::string bytes = test::read_file(dir / "m.dat");
  {
    std::ofstream f(dir / "cut.dat", std::ios::binary);
    f.write(bytes.data(), 40);
  }
  try {
    read_imatrix(dir / "cut.dat");
    FAIL() << "truncated file accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.dat: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_imatrix(dir / "absent.dat"), Error);

  // A value count the file cannot hold is refused before anything is allocated for it
  // (20 bytes once made the reader allocate 1 GB).
  {
    std::string tiny = bytes.substr(0, 4 + 4);  // entry count and the first name's length
    const int32_t len = 1, nval = 1 << 28;
    tiny.replace(4, 4, reinterpret_cast<const char*>(&len), 4);
    tiny += "x";
    tiny.append(4, '\0');  // call count
    tiny.append(reinterpret_cast<const char*>(&nval), 4);
    std::ofstream(dir / "huge.dat", std::ios::binary) << tiny;
  }
  try {
    read_imatrix(dir / "huge.dat");
    FAIL() << "a count beyond the file accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("huge.dat: entry 'x': 268435456 values do not fit"), std::string::npos) << e.what();
  }
}

// Sums of squares that no calibration could produce are refused, naming the file and entry,
// instead of steering the quantizers (a NaN weight, a negative one, or nothing at all).
TEST(ImatrixFile, NonFiniteNegativeOrAllZeroSumsAreRefused) {
  TempDir dir;
  const std::vector<std::pair<float, std::string>> cases = {
      {std::numeric_limits<float>::quiet_NaN(), "not a finite sum"},
      {std::numeric_limits<float>::infinity(), "not a finite sum"},
      {-1.0f, "not a finite sum"}};
  for (const auto& [v, why] : cases) {
    ImatrixData d = sample();
    d.entries["blk.0.attn_q.weight"].sums[2] = v;
    write_imatrix_gguf(d, dir / "bad.imatrix");
    try {
      ImatrixFile f(dir / "bad.imatrix");
      FAIL() << v << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad.imatrix"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
  ImatrixData zero = sample();
  zero.entries["blk.0.attn_q.weight"].sums.assign(4, 0.0f);
  write_imatrix_gguf(zero, dir / "zero.imatrix");
  EXPECT_THROW(ImatrixFile(dir / "zero.imatrix"), Error);
  write_imatrix_gguf(sample(), dir / "good.imatrix");  // an expert with zero sums inside a routed tensor is fine
  EXPECT_NO_THROW(ImatrixFile(dir / "good.imatrix"));
}

}  // namespace
}  // namespace llmq
