// safetensors reading, writing, sharded checkpoints and validation errors.
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "io/hf_checkpoint.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "util/error.h"
#include "util/half.h"

using namespace llmq;
namespace fs = std::filesystem;

namespace {

// Writes raw bytes: 8-byte header length, header JSON, data.
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << header << data;
}

std::string expect_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected llmq::Error";
  return "";
}

}  // namespace

TEST(Safetensors, ReadsHandWrittenFile) {
  test::TempDir d;
  // two f32 values and one bf16 (1.5 = 0x3fc0)
  float f[2] = {1.25f, -2.0f};
  uint16_t b = 0x3fc0;
  std::string data(reinterpret_cast<const char*>(f), 8);
  data.append(reinterpret_cast<const char*>(&b), 2);
  write_raw(d / "a.safetensors",
            R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"BF16","shape":[1,1],"data_offsets":[8,10]},"__metadata__":{"format":"pt"}})",
            data);
  SafetensorsFile sf(d / "a.safetensors");
  ASSERT_EQ(sf.tensors().size(), 2u);
  EXPECT_EQ(sf.metadata().at("format"), "pt");
  EXPECT_EQ(sf.find("x")->to_f32(), (std::vector<float>{1.25f, -2.0f}));
  EXPECT_EQ(sf.find("y")->to_f32(), (std::vector<float>{1.5f}));
  EXPECT_EQ(sf.find("y")->shape, (std::vector<int64_t>{1, 1}));
}

TEST(Safetensors, WriterRoundTrip) {
  test::TempDir d;
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<int32_t> q = {7, -8};
  {
    SafetensorsWriter w(d / "w.safetensors");
    w.set_metadata("format", "pt");
    w.declare("a", DType::F32, {2, 3});
    w.declare("q", DType::I32, {2});
    w.write("a", a.data(), a.size() * 4);
    w.write("q", q.data(), q.size() * 4);
    w.finish();
  }
  SafetensorsFile sf(d / "w.safetensors");
  EXPECT_EQ(sf.find("a")->to_f32(), a);
  EXPECT_EQ(sf.find("a")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(sf.find("q")->data, q.data(), 8), 0);
  // header length keeps the data 8-byte aligned
  EXPECT_EQ((sf.find("a")->data - reinterpret_cast<const uint8_t*>(0)) % 8, 0);
}

TEST(Safetensors, StreamedWriteEqualsOneWrite) {
  test::TempDir d;
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  {
    SafetensorsWriter w(d / "s.safetensors");
    w.declare("a", DType::F32, {2, 3});
    w.declare("b", DType::F32, {2});
    w.write_streamed("a", [&](const SafetensorsWriter::ByteSink& sink) {
      sink(a.data(), 8);  // in uneven pieces
      sink(a.data() + 2, 16);
    });
    w.write("b", a.data(), 8);
    w.finish();
  }
  SafetensorsFile sf(d / "s.safetensors");
  EXPECT_EQ(sf.find("a")->to_f32(), a);
  EXPECT_EQ(sf.find("b")->to_f32(), (std::vector<float>{1, 2}));
  // Fewer or more bytes than declared: an error naming the tensor, nothing left behind.
  for (size_t n : {size_t(20), size_t(28)}) {
    test::TempDir e;
    {
      SafetensorsWriter w(e / "bad.safetensors");
      w.declare("a", DType::F32, {2, 3});
      std::vector<float> big(7, 0.0f);
      try {
        w.write_streamed("a", [&](const SafetensorsWriter::ByteSink& sink) { sink(big.data(), n); });
        ADD_FAILURE() << n;
      } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find("tensor a"), std::string::npos) << err.what();
      }
    }
    EXPECT_TRUE(fs::is_empty(e.path));
  }
}

TEST(Safetensors, AbortedWriterLeavesNothing) {
  test::TempDir d;
  {
    SafetensorsWriter w(d / "x.safetensors");
    w.declare("a", DType::F32, {1});
    float v = 1;
    w.write("a", &v, 4);
    // no finish(): an exception path
  }
  EXPECT_TRUE(fs::is_empty(d.path));
}

TEST(Safetensors, RejectsCorruptFiles) {
  test::TempDir d;
  const std::string p = d / "bad.safetensors";
  {
    std::ofstream f(p, std::ios::binary);
    f << "abc";
  }
  EXPECT_NE(expect_error([&] { SafetensorsFile s(p); }).find("truncated"), std::string::npos);

  write_raw(p, R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0'));
  std::string e = expect_error([&] { SafetensorsFile s(p); });
  EXPECT_NE(e.find(p), std::string::npos);
  EXPECT_NE(e.find("outside"), std::string::npos);

  write_raw(p, R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", std::string(16, '\0'));
  EXPECT_NE(expect_error([&] { SafetensorsFile s(p); }).find("does not match"), std::string::npos);

  write_raw(p, R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            std::string(12, '\0'));
  EXPECT_NE(expect_error([&] { SafetensorsFile s(p); }).find("overlap"), std::string::npos);

  write_raw(p, R"({"x":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  EXPECT_NE(expect_error([&] { SafetensorsFile s(p); }).find("unsupported dtype"), std::string::npos);

  write_raw(p, R"({"x":)", "");
  EXPECT_NE(expect_error([&] { SafetensorsFile s(p); }).find("invalid JSON"), std::string::npos);

  // header length pointing past the end of the file
  {
    std::ofstream f(p, std::ios::binary);
    uint64_t n = 1000000;
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << "{}";
  }
  EXPECT_NE(expect_error([&] { SafetensorsFile s(p); }).find("exceeds file size"), std::string::npos);
}

TEST(Safetensors, NonFloatWeightsRejectedOnConversion) {
  test::TempDir d;
  write_raw(d / "i.safetensors", R"({"x":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  SafetensorsFile sf(d / "i.safetensors");
  EXPECT_NE(expect_error([&] { sf.find("x")->to_f32(); }).find("only BF16, F16 and F32"), std::string::npos);
}

// Splits tiny-llama into two shards with an index and checks every tensor reads the same.
TEST(HfCheckpoint, ShardedMatchesSingleFile) {
  test::TempDir d;
  const std::string src = test::model_dir("tiny-llama");
  HfCheckpoint single(src);
  fs::copy_file(src + "/config.json", d / "config.json");
  std::vector<std::string> names = single.tensor_names();
  nlohmann::json index = {{"metadata", {{"total_size", single.total_bytes()}}}, {"weight_map", nlohmann::json::object()}};
  for (int shard = 0; shard < 2; ++shard) {
    const std::string fname = "model-0000" + std::to_string(shard + 1) + "-of-00002.safetensors";
    SafetensorsWriter w(d / fname);
    for (size_t i = shard; i < names.size(); i += 2) {
      const TensorView& tv = single.get(names[i]);
      w.add(names[i], tv.dtype, tv.shape, tv.data, tv.nbytes);
      index["weight_map"][names[i]] = fname;
    }
    w.finish();
  }
  {
    std::ofstream f(d / "model.safetensors.index.json");
    f << index.dump(1);
  }
  HfCheckpoint sharded(d.path.string());
  ASSERT_EQ(sharded.shards().size(), 2u);
  ASSERT_EQ(sharded.tensor_names(), names);
  for (const auto& n : names) {
    const TensorView& a = single.get(n);
    const TensorView& b = sharded.get(n);
    ASSERT_EQ(a.nbytes, b.nbytes);
    ASSERT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << n;
  }
  // A shard listed in the index but absent is named in the error.
  fs::remove(d / "model-00002-of-00002.safetensors");
  std::string e = expect_error([&] { HfCheckpoint c(d.path.string()); });
  EXPECT_NE(e.find("model-00002-of-00002.safetensors"), std::string::npos);
  EXPECT_NE(e.find("missing"), std::string::npos);
}

TEST(HfCheckpoint, MissingFilesAreNamed) {
  test::TempDir d;
  EXPECT_NE(expect_error([&] { HfCheckpoint c(d / "nope"); }).find("not found"), std::string::npos);
  EXPECT_NE(expect_error([&] { HfCheckpoint c(d.path.string()); }).find("config.json"), std::string::npos);
  {
    std::ofstream f(d / "config.json");
    f << "{}";
  }
  EXPECT_NE(expect_error([&] { HfCheckpoint c(d.path.string()); }).find("no model.safetensors"), std::string::npos);
}

TEST(Half, ConversionsRoundTrip) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds to inf
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000)), 0x3f82);  // tie -> even (up)
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t v = uint16_t(h);
    if ((v & 0x7c00) == 0x7c00 && (v & 0x3ff)) continue;  // NaN
    ASSERT_EQ(f32_to_f16(f16_to_f32(v)), v) << h;
  }
}
