// Broken files must fail in the GgufReader constructor with one llmq::Error
// line "<path>: <problem>", never crash or allocate absurdly.
#include <gtest/gtest.h>

#include <random>

#include "gguf_test_support.h"
#include "io/gguf/gguf_reader.h"
#include "io/gguf/gguf_writer.h"
#include "util/error.h"

namespace llmq {
namespace {

using gguf_test::ByteBuilder;
using gguf_test::TempDir;

struct RawTensor {
  std::string name;
  std::vector<int64_t> dims;
  uint32_t type;  // ggml type id
  uint64_t offset;
};

struct RawFile {
  std::string magic = "GGUF";
  uint32_t version = 3;
  uint32_t alignment = 32;  // written as a key when not 32
  std::vector<RawTensor> tensors;
  size_t data_bytes = 0;
};

// A GGUF file assembled field by field, without the writer under test.
std::vector<uint8_t> build(const RawFile& f) {
  ByteBuilder b;
  b.raw(f.magic).u32(f.version).u64(f.tensors.size()).u64(f.alignment != 32 ? 1 : 0);
  if (f.alignment != 32) b.str("general.alignment").u32(4).u32(f.alignment);
  for (const RawTensor& t : f.tensors) {
    b.str(t.name).u32(uint32_t(t.dims.size()));
    for (int64_t d : t.dims) b.i64(d);
    b.u32(t.type).u64(t.offset);
  }
  b.pad_to(f.alignment).zeros(f.data_bytes);
  return b.bytes;
}

// Two F32 tensors of 4 values (16 bytes) at offsets 0 and 32: a valid file.
RawFile two_tensors() {
  RawFile f;
  f.tensors = {{"a", {4}, 0, 0}, {"b", {2, 2}, 0, 32}};
  f.data_bytes = 64;
  return f;
}

void expect_error(const std::string& path, const std::string& fragment) {
  try {
    GgufReader r(path);
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

class GgufReaderErrors : public ::testing::Test {
 protected:
  std::string write(const std::vector<uint8_t>& bytes) {
    const std::string path = dir_.file("f" + std::to_string(n_++) + ".gguf");
    gguf_test::write_bytes(path, bytes);
    return path;
  }
  std::string write(const RawFile& f) { return write(build(f)); }

  TempDir dir_;
  int n_ = 0;
};

TEST_F(GgufReaderErrors, HandBuiltFileIsValid) {
  // guards the builder itself, so the failures below are caused by what each test breaks
  GgufReader r(write(two_tensors()));
  ASSERT_EQ(r.tensors().size(), 2u);
  EXPECT_EQ(r.tensor("b").offset, 32u);
  EXPECT_EQ(r.tensor("b").nbytes, 16u);
  RawFile v2 = two_tensors();
  v2.version = 2;  // same layout as v3
  EXPECT_EQ(GgufReader(write(v2)).version(), 2u);
}

TEST_F(GgufReaderErrors, MissingOrEmptyFile) {
  expect_error(dir_.file("absent.gguf"), "cannot open");
  expect_error(write(std::vector<uint8_t>{}), "not a GGUF file");
}

TEST_F(GgufReaderErrors, BadMagic) {
  RawFile f = two_tensors();
  f.magic = "GGML";
  expect_error(write(f), "not a GGUF file: starts with 'GGML'");
}

TEST_F(GgufReaderErrors, UnsupportedVersions) {
  RawFile f = two_tensors();
  f.version = 1;
  expect_error(write(f), "unsupported GGUF version 1");
  f.version = 4;
  expect_error(write(f), "unsupported GGUF version 4");
  f.version = 0x03000000;  // a big-endian v3 file
  expect_error(write(f), "byte-swapped");
}

TEST_F(GgufReaderErrors, EveryTruncationIsReported) {
  const std::string full = dir_.file("full.gguf");
  {
    GgufWriter w(full);
    w.set("general.name", "truncate me");
    w.set("tokens", std::vector<std::string>{"a", "bb", "ccc"});
    w.set("scores", std::vector<float>{1, 2, 3});
    w.add_tensor("x", {32, 2}, ggml::GgmlType::Q8_0);
    w.add_tensor("y", {5}, ggml::GgmlType::F16);
    std::vector<uint8_t> q(68, 1), h(10, 2);
    w.write_tensor_data("x", q.data(), q.size());
    w.write_tensor_data("y", h.data(), h.size());
    w.finish();
  }
  const std::vector<uint8_t> bytes = gguf_test::read_bytes(full);
  size_t data_end;
  {
    GgufReader r(full);
    data_end = r.data_offset() + r.tensor("y").offset + r.tensor("y").nbytes;
  }
  // Any prefix that cuts the header or tensor data must fail; only the final
  // padding after the last tensor is optional (ggml's loader does not need it).
  for (size_t n = 0; n < data_end; ++n) {
    SCOPED_TRACE(n);
    const std::string path = write(std::vector<uint8_t>(bytes.begin(), bytes.begin() + std::ptrdiff_t(n)));
    EXPECT_THROW(GgufReader r(path), Error);
  }
  const std::string path = write(std::vector<uint8_t>(bytes.begin(), bytes.begin() + std::ptrdiff_t(data_end)));
  EXPECT_NO_THROW(GgufReader r(path));
  // the message says what happened
  expect_error(write(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 30)), "more than the 30-byte file can hold");
  expect_error(write(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 150)), "truncated file");  // inside "scores"
  expect_error(write(std::vector<uint8_t>(bytes.begin(), bytes.begin() + std::ptrdiff_t(data_end - 1))),
               "runs past the end of the file");
}

TEST_F(GgufReaderErrors, OffsetOutOfRange) {
  RawFile f = two_tensors();
  f.tensors[1].offset = 1024;
  expect_error(write(f), "tensor 'b' data (bytes 1024 to 1040");
  f.tensors[1].offset = ~uint64_t(31);  // huge, aligned: must not overflow the bounds check
  expect_error(write(f), "runs past the end of the file");
}

TEST_F(GgufReaderErrors, MisalignedOffset) {
  RawFile f = two_tensors();
  f.tensors[1].offset = 16;
  expect_error(write(f), "tensor 'b' data offset 16 is not a multiple of the alignment 32");
  f.alignment = 16;  // the same offset is fine with a 16-byte alignment
  f.data_bytes = 32;  // b ends at 32: no more data than the tensors need
  EXPECT_NO_THROW(GgufReader r(write(f)));
}

TEST_F(GgufReaderErrors, OverlappingTensors) {
  RawFile f = two_tensors();
  f.tensors[0].dims = {16};  // 64 bytes from 0 now cover b at 32
  f.data_bytes = 96;
  expect_error(write(f), "overlap");
}

// A tensor count one short leaves the last tensor's bytes unclaimed (and shifts the data section):
// more than the alignment's padding after the last tensor is refused.
TEST_F(GgufReaderErrors, DataBeyondTheLastTensor) {
  RawFile f = two_tensors();
  f.tensors.pop_back();  // "a" ends at 16; 48 bytes of the 64 follow it
  expect_error(write(f), "48 bytes follow the last tensor's data");
  f.data_bytes = 48;     // up to one alignment of padding is what writers leave
  EXPECT_NO_THROW(GgufReader r(write(f)));
}

TEST_F(GgufReaderErrors, UnknownTensorType) {
  RawFile f = two_tensors();
  f.tensors[0].type = 99;
  expect_error(write(f), "tensor 'a' has unknown ggml type 99");
  f.tensors[0].type = 4;  // Q4_2, removed from ggml long ago
  expect_error(write(f), "unknown ggml type 4");
}

TEST_F(GgufReaderErrors, BadShapes) {
  RawFile f = two_tensors();
  f.tensors[0].dims = {1, 1, 1, 1, 4};
  expect_error(write(f), "tensor 'a' has 5 dimensions");
  f.tensors[0].dims = {};
  expect_error(write(f), "tensor 'a' has 0 dimensions");
  f.tensors[0].dims = {4, 0};
  expect_error(write(f), "dimension 1 is 0");
  f.tensors[0].dims = {-4};
  expect_error(write(f), "dimension 0 is -4");
  f.tensors[0].dims = {int64_t(1) << 40, int64_t(1) << 40};
  expect_error(write(f), "too large");
  f.tensors[0] = {"q", {20}, 2 /*Q4_0*/, 0};
  expect_error(write(f), "row length 20 is not a multiple of the Q4_0 block size 32");
}

TEST_F(GgufReaderErrors, DuplicateNames) {
  RawFile f = two_tensors();
  f.tensors[1].name = "a";
  expect_error(write(f), "duplicate tensor name 'a'");

  ByteBuilder b;
  b.raw("GGUF").u32(3).u64(0).u64(2);
  b.str("k").u32(4).u32(1);
  b.str("k").u32(4).u32(2);
  expect_error(write(b.bytes), "duplicate metadata key 'k'");
}

TEST_F(GgufReaderErrors, UnknownValueTypes) {
  ByteBuilder b;
  b.raw("GGUF").u32(3).u64(0).u64(1).str("mystery").u32(13).u32(0);
  expect_error(write(b.bytes), "key 'mystery' has unknown value type 13");

  ByteBuilder arr;
  arr.raw("GGUF").u32(3).u64(0).u64(1).str("list").u32(9).u32(42).u64(1).u32(0);
  expect_error(write(arr.bytes), "key 'list': array has unknown element type 42");
}

TEST_F(GgufReaderErrors, CountsLargerThanTheFile) {
  ByteBuilder kv;
  kv.raw("GGUF").u32(3).u64(0).u64(uint64_t(1) << 60);
  expect_error(write(kv.bytes), "header claims 1152921504606846976 metadata entries");

  ByteBuilder tensors;
  tensors.raw("GGUF").u32(3).u64(uint64_t(1) << 60).u64(0);
  expect_error(write(tensors.bytes), "header claims 1152921504606846976 tensors");

  ByteBuilder str;
  str.raw("GGUF").u32(3).u64(0).u64(1).u64(uint64_t(1) << 62).raw("key").zeros(16);
  expect_error(write(str.bytes), "metadata key at byte 24 claims 4611686018427387904 bytes");

  ByteBuilder arr;
  arr.raw("GGUF").u32(3).u64(0).u64(1).str("big").u32(9).u32(6).u64(uint64_t(1) << 61).zeros(16);
  expect_error(write(arr.bytes), "key 'big': array of 2305843009213693952 float32 values cannot fit");

  ByteBuilder strings;  // each string needs at least its 8-byte length
  strings.raw("GGUF").u32(3).u64(0).u64(1).str("s").u32(9).u32(8).u64(3).zeros(16);
  expect_error(write(strings.bytes), "array of 3 string values cannot fit");
}

TEST_F(GgufReaderErrors, BadAlignmentKey) {
  RawFile f = two_tensors();
  f.alignment = 48;
  expect_error(write(f), "general.alignment is 48, not a power of two");

  ByteBuilder b;
  b.raw("GGUF").u32(3).u64(0).u64(1).str("general.alignment").u32(5).u32(64);  // int32
  expect_error(write(b.bytes), "general.alignment must be a uint32, found int32");
}

TEST_F(GgufReaderErrors, RandomCorruptionNeverCrashes) {
  const std::string good = dir_.file("good.gguf");
  {
    GgufWriter w(good);
    w.set("general.architecture", "llama");
    w.set("tokens", std::vector<std::string>{"<s>", "</s>", "hello"});
    w.set("nested", GgufValue(std::vector<GgufValue>{GgufValue(std::vector<int32_t>{1, 2})}));
    w.set("flag", true);
    w.add_tensor("w", {32, 2}, ggml::GgmlType::Q4_0);
    w.add_tensor("n", {8}, ggml::GgmlType::F32);
    std::vector<uint8_t> q(36, 3), f(32, 0);
    w.write_tensor_data("w", q.data(), q.size());
    w.write_tensor_data("n", f.data(), f.size());
    w.finish();
  }
  const std::vector<uint8_t> bytes = gguf_test::read_bytes(good);
  const size_t header_end = GgufReader(good).data_offset();
  std::mt19937 rng(12345);
  const std::string path = dir_.file("fuzz.gguf");
  int rejected = 0;
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<uint8_t> b = bytes;
    const int flips = 1 + int(rng() % 3);
    for (int k = 0; k < flips; ++k) b[rng() % header_end] = uint8_t(rng());
    gguf_test::write_bytes(path, b);
    try {
      GgufReader r(path);
      for (const GgufTensorInfo& t : r.tensors())  // whatever was accepted must be inside the file
        ASSERT_LE(r.data_offset() + t.offset + t.nbytes, r.file_size());
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 50);  // the corruption did hit checks
}

}  // namespace
}  // namespace llmq
