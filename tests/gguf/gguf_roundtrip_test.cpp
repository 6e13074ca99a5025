// Write with GgufWriter, read back with GgufReader, compare everything.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>

#include "gguf_test_support.h"
#include "io/gguf/gguf_reader.h"
#include "io/gguf/gguf_writer.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq {
namespace {

using gguf_test::TempDir;
using ggml::GgmlType;

GgufMetadata every_kind_of_value() {
  GgufMetadata m;
  m.set("general.architecture", "llama");
  m.set("u8", uint8_t(250));
  m.set("i8", int8_t(-7));
  m.set("u16", uint16_t(65535));
  m.set("i16", int16_t(-32768));
  m.set("u32", uint32_t(4000000000u));
  m.set("i32", int32_t(-2000000000));
  m.set("f32", 3.25f);
  m.set("bool.true", true);
  m.set("bool.false", false);
  m.set("string.empty", "");
  m.set("string.utf8", "héllo ▁wörld\n\t\"quoted\"");
  m.set("u64", std::numeric_limits<uint64_t>::max());
  m.set("i64", std::numeric_limits<int64_t>::min());
  m.set("f64", -1.0 / 3.0);
  m.set("arr.u8", std::vector<uint8_t>{0, 1, 255});
  m.set("arr.i8", std::vector<int8_t>{-128, 0, 127});
  m.set("arr.u16", std::vector<uint16_t>{1, 60000});
  m.set("arr.i16", std::vector<int16_t>{-1, 2});
  m.set("arr.u32", std::vector<uint32_t>{7, 8, 9});
  m.set("arr.i32", std::vector<int32_t>{-1, 0, 1});
  m.set("arr.f32", std::vector<float>{0.5f, -0.0f, 1e-30f});
  m.set("arr.bool", std::vector<bool>{true, false, true, true});
  m.set("arr.string", std::vector<std::string>{"<s>", "", "▁the", std::string("nul\0inside", 10)});
  m.set("arr.u64", std::vector<uint64_t>{1, uint64_t(1) << 40});
  m.set("arr.i64", std::vector<int64_t>{-(int64_t(1) << 40)});
  m.set("arr.f64", std::vector<double>{1e300, -2.5});
  m.set("arr.empty_string", std::vector<std::string>{});
  m.set("arr.empty_f32", std::vector<float>{});
  // arrays of arrays: string arrays nested two deep, plus mixed element types
  m.set("arr.nested",
        GgufValue(std::vector<GgufValue>{
            GgufValue(std::vector<std::string>{"a", "bc"}),
            GgufValue(std::vector<std::string>{}),
            GgufValue(std::vector<GgufValue>{GgufValue(std::vector<std::string>{"deep"}),
                                             GgufValue(std::vector<int16_t>{-3})}),
        }));
  return m;
}

TEST(GgufRoundTrip, EveryMetadataTypeSurvivesInOrder) {
  TempDir dir;
  const std::string path = dir.file("meta.gguf");
  const GgufMetadata expected = every_kind_of_value();
  {
    GgufWriter w(path);
    for (const auto& [key, value] : expected) w.set(key, value);
    w.finish();
  }
  GgufReader r(path);
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(r.alignment(), 32u);
  EXPECT_TRUE(r.tensors().empty());
  ASSERT_EQ(r.metadata().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [key, value] = expected.entries()[i];
    EXPECT_EQ(r.metadata().entries()[i].first, key);
    EXPECT_TRUE(r.metadata().entries()[i].second == value) << key << ": " << r.metadata().entries()[i].second.to_display_string();
  }
  // typed accessors
  EXPECT_EQ(r.get<std::string>("general.architecture"), "llama");
  EXPECT_EQ(r.get<uint32_t>("u32"), 4000000000u);
  EXPECT_EQ(r.get<int64_t>("i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(r.get<std::vector<std::string>>("arr.string")[3], std::string("nul\0inside", 10));
  EXPECT_EQ(r.get<std::vector<bool>>("arr.bool"), (std::vector<bool>{true, false, true, true}));
  const auto& nested = r.get<std::vector<GgufValue>>("arr.nested");
  ASSERT_EQ(nested.size(), 3u);
  EXPECT_EQ(nested[2].get<std::vector<GgufValue>>()[0].get<std::vector<std::string>>()[0], "deep");
  EXPECT_EQ(r.get_int("u16"), 65535);
  EXPECT_EQ(r.get_optional<float>("absent"), std::nullopt);
  EXPECT_EQ(r.get_optional<float>("f32"), 3.25f);
  EXPECT_EQ(r.get_int_optional("absent"), std::nullopt);
}

TEST(GgufRoundTrip, ReaderErrorsNameFileAndKey) {
  TempDir dir;
  const std::string path = dir.file("keys.gguf");
  {
    GgufWriter w(path);
    w.set("name", "x");
    w.finish();
  }
  GgufReader r(path);
  try {
    (void)r.get<uint32_t>("name");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": metadata key 'name': expected uint32, found string");
  }
  try {
    (void)r.get<std::string>("missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": missing metadata key 'missing'");
  }
  EXPECT_THROW((void)r.get_optional<float>("name"), Error);  // present with another type is an error, not nullopt
  EXPECT_THROW((void)r.tensor("nope"), Error);
  EXPECT_EQ(r.find_tensor("nope"), nullptr);
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = uint8_t(rng());
  return b;
}

struct TensorCase {
  std::string name;
  std::vector<int64_t> shape;
  GgmlType type;
  std::vector<uint8_t> bytes;
};

std::vector<TensorCase> several_tensors() {
  std::vector<TensorCase> cases;
  std::vector<float> f32(3 * 5);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = float(i) * 0.5f - 3.0f;
  std::vector<uint8_t> f32_bytes(f32.size() * 4);
  std::memcpy(f32_bytes.data(), f32.data(), f32_bytes.size());
  cases.push_back({"blk.0.attn_norm.weight", {5, 3}, GgmlType::F32, f32_bytes});

  std::vector<uint16_t> f16(7);
  for (size_t i = 0; i < f16.size(); ++i) f16[i] = f32_to_f16(float(i) - 2.5f);
  std::vector<uint8_t> f16_bytes(f16.size() * 2);
  std::memcpy(f16_bytes.data(), f16.data(), f16_bytes.size());
  cases.push_back({"odd_sized_f16", {7}, GgmlType::F16, f16_bytes});  // 14 bytes: padding follows

  // Q4_0: 64 values per row = 2 blocks of 18 bytes; 2 x 3 rows -> 216 bytes of arbitrary content
  cases.push_back({"blk.0.ffn_down.weight", {64, 2, 3}, GgmlType::Q4_0, random_bytes(2 * 18 * 6, 1)});
  // Q4_K: one 256-value block (144 bytes) per row, 4-d
  cases.push_back({"four_d", {256, 1, 2, 1}, GgmlType::Q4_K, random_bytes(144 * 2, 2)});
  cases.push_back({"i8", {33}, GgmlType::I8, random_bytes(33, 3)});
  return cases;
}

void write_tensor_file(const std::string& path, const std::vector<TensorCase>& cases, uint32_t alignment) {
  GgufWriter w(path);
  w.set("general.name", "tensors");
  if (alignment != 32) w.set_alignment(alignment);
  for (const auto& c : cases) w.add_tensor(c.name, c.shape, c.type);
  for (const auto& c : cases) w.write_tensor_data(c.name, c.bytes.data(), c.bytes.size());
  w.finish();
}

void expect_tensors_read_back(const std::string& path, const std::vector<TensorCase>& cases, uint32_t alignment) {
  GgufReader r(path);
  EXPECT_EQ(r.alignment(), alignment);
  EXPECT_EQ(r.data_offset() % alignment, 0u);
  ASSERT_EQ(r.tensors().size(), cases.size());
  uint64_t expected_offset = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const GgufTensorInfo& t = r.tensors()[i];
    SCOPED_TRACE(cases[i].name);
    EXPECT_EQ(t.name, cases[i].name);
    EXPECT_EQ(t.shape, cases[i].shape);
    EXPECT_EQ(t.type, cases[i].type);
    EXPECT_EQ(t.nbytes, cases[i].bytes.size());
    EXPECT_EQ(t.offset, expected_offset);  // packed in order, each padded to the alignment
    expected_offset += (t.nbytes + alignment - 1) / alignment * alignment;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % alignment, 0u);  // mmap is page aligned
    ASSERT_EQ(std::memcmp(t.data, cases[i].bytes.data(), t.nbytes), 0);
    EXPECT_EQ(&r.tensor(t.name), &t);
  }
  // ggml's writer pads after the last tensor too
  EXPECT_EQ(r.file_size(), r.data_offset() + expected_offset);
}

TEST(GgufRoundTrip, TensorsOfSeveralTypes) {
  TempDir dir;
  const auto cases = several_tensors();
  write_tensor_file(dir.file("t.gguf"), cases, 32);
  expect_tensors_read_back(dir.file("t.gguf"), cases, 32);
  GgufReader r(dir.file("t.gguf"));
  EXPECT_FALSE(r.contains("general.alignment"));  // default alignment is not written
  EXPECT_EQ(r.tensor("blk.0.ffn_down.weight").n_rows(), 6);
  EXPECT_EQ(r.tensor("blk.0.ffn_down.weight").n_elements(), 384);
  // F32 values come back as numbers too, not just bytes
  const float* f = reinterpret_cast<const float*>(r.tensor("blk.0.attn_norm.weight").data);
  EXPECT_EQ(f[14], 4.0f);
}

TEST(GgufRoundTrip, NonDefaultAlignments) {
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    TempDir dir;
    const auto cases = several_tensors();
    write_tensor_file(dir.file("a.gguf"), cases, alignment);
    expect_tensors_read_back(dir.file("a.gguf"), cases, alignment);
    GgufReader r(dir.file("a.gguf"));
    EXPECT_EQ(r.get<uint32_t>("general.alignment"), alignment);
  }
}

TEST(GgufRoundTrip, AlignmentKeyIsOnlyWrittenWhenNotDefault) {
  TempDir dir;
  {
    GgufWriter w(dir.file("a.gguf"));
    w.set("general.alignment", uint32_t(64));
    w.set("x", 1);
    w.set("general.alignment", uint32_t(32));  // back to the default: key dropped
    w.finish();
  }
  GgufReader r(dir.file("a.gguf"));
  EXPECT_FALSE(r.contains("general.alignment"));
  EXPECT_EQ(r.metadata().size(), 1u);

  GgufWriter w(dir.file("b.gguf"));
  EXPECT_THROW(w.set("general.alignment", 64), Error);             // int32, not uint32
  EXPECT_THROW(w.set("general.alignment", uint32_t(48)), Error);   // not a power of two
  EXPECT_THROW(w.set_alignment(0), Error);
}

TEST(GgufRoundTrip, AlignmentChangedAfterDeclaringTensorsMovesTheirOffsets) {
  TempDir dir;
  GgufWriter w(dir.file("a.gguf"));
  w.add_tensor("a", {3}, GgmlType::F32);
  w.add_tensor("b", {3}, GgmlType::F32);
  EXPECT_EQ(w.tensors()[1].offset, 32u);
  w.set_alignment(16);
  EXPECT_EQ(w.tensors()[1].offset, 16u);
  const float v[3] = {1, 2, 3};
  w.write_tensor_data("a", v, sizeof v);
  w.write_tensor_data("b", v, sizeof v);
  w.finish();
  GgufReader r(dir.file("a.gguf"));
  EXPECT_EQ(r.tensor("b").offset, 16u);
  EXPECT_EQ(reinterpret_cast<const float*>(r.tensor("b").data)[2], 3.0f);
}

TEST(GgufWriter, EnforcesDeclarationOrderAndSizes) {
  TempDir dir;
  const std::string path = dir.file("w.gguf");
  GgufWriter w(path);
  w.add_tensor("first", {32}, GgmlType::Q8_0);  // 34 bytes
  w.add_tensor("second", {4}, GgmlType::F32);
  EXPECT_THROW(w.add_tensor("first", {4}, GgmlType::F32), Error);          // duplicate name
  EXPECT_THROW(w.add_tensor("bad", {33}, GgmlType::Q8_0), Error);          // not whole blocks
  EXPECT_THROW(w.add_tensor("bad", {4, 0}, GgmlType::F32), Error);         // zero dim
  EXPECT_THROW(w.add_tensor("bad", {1, 1, 1, 1, 1}, GgmlType::F32), Error);  // 5 dims
  EXPECT_THROW(w.add_tensor("bad", {}, GgmlType::F32), Error);
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), {4}, GgmlType::F32), Error);  // ggml name limit
  EXPECT_THROW(w.add_tensor("bad", {4}, GgmlType(4)), Error);              // removed Q4_2 id

  std::vector<uint8_t> q8(34, 7);
  float f[4] = {1, 2, 3, 4};
  try {
    w.write_tensor_data("second", f, sizeof f);
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find("expected the data of 'first'"), std::string::npos) << msg;
  }
  EXPECT_THROW(w.write_tensor_data("first", q8.data(), 33), Error);   // wrong size
  EXPECT_THROW(w.set("late", 1), Error);                              // header already written
  EXPECT_THROW(w.add_tensor("late", {4}, GgmlType::F32), Error);
  w.write_tensor_data("first", q8.data(), q8.size());
  EXPECT_THROW(w.finish(), Error);  // 'second' missing
  w.write_tensor_data("second", f, sizeof f);
  EXPECT_THROW(w.write_tensor_data("second", f, sizeof f), Error);  // one too many
  w.finish();
  GgufReader r(path);
  EXPECT_EQ(r.tensors().size(), 2u);
}

TEST(GgufWriter, AbandonedWriterLeavesNoFileBehind) {
  TempDir dir;
  const std::string path = dir.file("abandoned.gguf");
  {
    GgufWriter w(path);
    w.set("k", 1);
    w.add_tensor("t", {4}, GgmlType::F32);
    float f[4] = {};
    w.write_tensor_data("t", f, sizeof f);  // data written, but never finished
    EXPECT_FALSE(std::filesystem::exists(path));  // nothing under the final name until finish()
  }
  EXPECT_TRUE(dir.entries().empty());  // and the temporary is gone

  try {
    GgufWriter w(path);
    w.add_tensor("t", {4}, GgmlType::F32);
    throw std::runtime_error("quantization failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(GgufWriter, FinishReplacesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.file("x.gguf");
  gguf_test::write_bytes(path, {'o', 'l', 'd'});
  {
    GgufWriter w(path);
    w.set("v", 2);
    EXPECT_EQ(gguf_test::read_bytes(path).size(), 3u);  // old file intact until finish
    w.finish();
  }
  EXPECT_EQ(GgufReader(path).get<int32_t>("v"), 2);
  EXPECT_EQ(dir.entries().size(), 1u);
}

}  // namespace
}  // namespace llmq
