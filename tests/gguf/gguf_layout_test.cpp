// The writer's bytes against files laid out by hand from the GGUF spec
// (ggml docs/gguf.md): "GGUF", u32 version 3, u64 tensor count, u64 key/value
// count, then key/values (string = u64 length + bytes, u32 value type,
// value), tensor infos (name, u32 n_dims, i64 dims, u32 ggml type, u64
// offset), zero padding to the alignment, tensor data each padded likewise.
#include <gtest/gtest.h>

#include "gguf_test_support.h"
#include "io/gguf/gguf_reader.h"
#include "io/gguf/gguf_writer.h"

namespace llmq {
namespace {

using gguf_test::TempDir;
using ggml::GgmlType;

std::vector<uint8_t> zeros(size_t n) { return std::vector<uint8_t>(n, 0); }

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

TEST(GgufLayout, TinyFileMatchesHandWrittenBytes) {
  TempDir dir;
  const std::string path = dir.file("tiny.gguf");
  {
    GgufWriter w(path);
    w.set("n", uint32_t(7));
    w.set("s", "hi");
    w.set("v", std::vector<uint8_t>{1, 2, 3});
    w.add_tensor("t", {2}, GgmlType::F32);
    const float data[2] = {1.0f, 2.0f};
    w.write_tensor_data("t", data, sizeof data);
    w.finish();
  }
  const std::vector<uint8_t> expected = concat({
      {'G', 'G', 'U', 'F'},                       // 0: magic
      {3, 0, 0, 0},                               // 4: version 3
      {1, 0, 0, 0, 0, 0, 0, 0},                   // 8: one tensor
      {3, 0, 0, 0, 0, 0, 0, 0},                   // 16: three key/values (no general.alignment at 32)
      {1, 0, 0, 0, 0, 0, 0, 0, 'n'},              // 24: key "n"
      {4, 0, 0, 0},                               //     type uint32
      {7, 0, 0, 0},                               //     7
      {1, 0, 0, 0, 0, 0, 0, 0, 's'},              // 41: key "s"
      {8, 0, 0, 0},                               //     type string
      {2, 0, 0, 0, 0, 0, 0, 0, 'h', 'i'},         //     "hi"
      {1, 0, 0, 0, 0, 0, 0, 0, 'v'},              // 64: key "v"
      {9, 0, 0, 0},                               //     type array
      {0, 0, 0, 0},                               //     of uint8
      {3, 0, 0, 0, 0, 0, 0, 0},                   //     3 elements
      {1, 2, 3},                                  //
      {1, 0, 0, 0, 0, 0, 0, 0, 't'},              // 92: tensor "t"
      {1, 0, 0, 0},                               //     1 dim
      {2, 0, 0, 0, 0, 0, 0, 0},                   //     ne[0] = 2
      {0, 0, 0, 0},                               //     GGML_TYPE_F32
      {0, 0, 0, 0, 0, 0, 0, 0},                   //     offset 0
      zeros(3),                                   // 125: pad to 128
      {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40},  // 128: 1.0f, 2.0f
      zeros(24),                                  // 136: pad to 160
  });
  ASSERT_EQ(expected.size(), 160u);
  EXPECT_EQ(gguf_test::read_bytes(path), expected);

  GgufReader r(path);
  EXPECT_EQ(r.data_offset(), 128u);
  EXPECT_EQ(r.tensor("t").offset, 0u);
}

TEST(GgufLayout, CustomAlignmentWritesKeyAndPadsEachTensor) {
  TempDir dir;
  const std::string path = dir.file("aligned.gguf");
  {
    GgufWriter w(path);
    w.set_alignment(64);
    w.add_tensor("a", {1}, GgmlType::F32);
    w.add_tensor("b", {3, 1}, GgmlType::I8);  // dims written as given, trailing 1 kept
    const float a = -2.0f;
    const int8_t b[3] = {1, -1, 3};
    w.write_tensor_data("a", &a, sizeof a);
    w.write_tensor_data("b", b, sizeof b);
    w.finish();
  }
  const std::vector<uint8_t> expected = concat({
      {'G', 'G', 'U', 'F', 3, 0, 0, 0},
      {2, 0, 0, 0, 0, 0, 0, 0},                   // two tensors
      {1, 0, 0, 0, 0, 0, 0, 0},                   // one key/value
      {17, 0, 0, 0, 0, 0, 0, 0},                  // 24: key of 17 bytes
      {'g', 'e', 'n', 'e', 'r', 'a', 'l', '.', 'a', 'l', 'i', 'g', 'n', 'm', 'e', 'n', 't'},
      {4, 0, 0, 0},                               //     uint32
      {64, 0, 0, 0},                              //     64
      {1, 0, 0, 0, 0, 0, 0, 0, 'a'},              // 57: tensor "a"
      {1, 0, 0, 0},                               //     1 dim
      {1, 0, 0, 0, 0, 0, 0, 0},                   //     [1]
      {0, 0, 0, 0},                               //     F32
      {0, 0, 0, 0, 0, 0, 0, 0},                   //     offset 0
      {1, 0, 0, 0, 0, 0, 0, 0, 'b'},              // 90: tensor "b"
      {2, 0, 0, 0},                               //     2 dims
      {3, 0, 0, 0, 0, 0, 0, 0},                   //     [3,
      {1, 0, 0, 0, 0, 0, 0, 0},                   //      1]
      {24, 0, 0, 0},                              //     GGML_TYPE_I8
      {64, 0, 0, 0, 0, 0, 0, 0},                  //     offset 64: "a" takes 4 bytes padded to 64
      zeros(61),                                  // 131: pad to 192
      {0x00, 0x00, 0x00, 0xC0},                   // 192: -2.0f
      zeros(60),                                  // 196: pad to 256
      {0x01, 0xFF, 0x03},                         // 256: 1, -1, 3
      zeros(61),                                  // 259: pad to 320
  });
  ASSERT_EQ(expected.size(), 320u);
  EXPECT_EQ(gguf_test::read_bytes(path), expected);

  GgufReader r(path);
  EXPECT_EQ(r.alignment(), 64u);
  EXPECT_EQ(r.data_offset(), 192u);
  EXPECT_EQ(r.tensor("b").shape, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(int8_t(r.tensor("b").data[1]), -1);
}

}  // namespace
}  // namespace llmq
