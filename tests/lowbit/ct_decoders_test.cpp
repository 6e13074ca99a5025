// The compressed-tensors low-bit decoders on checkpoints written byte by byte
// here, with the values worked out by hand from the format definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "common/fixtures.h"
#include "export/hf/loaders/ct_lowbit_decoders.h"
#include "io/safetensors_writer.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq {
namespace {

struct HandCheckpoint {
  test::TempDir tmp;
  SafetensorsWriter st{tmp / "model.safetensors"};
  HandCheckpoint() { std::ofstream(tmp / "config.json") << "{}"; }
  template <typename T>
  void add(const std::string& name, DType dt, std::vector<int64_t> shape, const std::vector<T>& v) {
    st.add(name, dt, std::move(shape), v.data(), v.size() * sizeof(T));
  }
  HfCheckpoint open() {
    st.finish();
    return HfCheckpoint(tmp.path.string());
  }
};

TEST(CtDecoders, Fp8PerChannelAndPerTensor) {
  HandCheckpoint h;
  // E4M3: 0x38 = 1, 0xC0 = -2, 0x01 = 2^-9, 0x7E = 448, 0xB4 = -(1 + 4/8) * 2^-1 = -0.75
  const std::vector<uint8_t> codes = {0x38, 0xC0, 0x01, 0x7E, 0x00, 0xB4};
  h.add("a.weight", DType::F8_E4M3, {2, 3}, codes);
  h.add("a.weight_scale", DType::F32, {2, 1}, std::vector<float>{0.5f, 2.0f});
  h.add("b.weight", DType::F8_E4M3, {2, 3}, codes);
  h.add("b.weight_scale", DType::BF16, {1}, std::vector<uint16_t>{f32_to_bf16(4.0f)});
  const HfCheckpoint ck = h.open();
  Tensor a = decode_ct_lowbit_linear(ck, CtLowbitFormat::Float8, "a", 2, 3);
  EXPECT_EQ(a.data, (std::vector<float>{0.5f, -1, std::ldexp(1.0f, -10), 896, 0, -1.5f}));
  Tensor b = decode_ct_lowbit_linear(ck, CtLowbitFormat::Float8, "b", 2, 3);
  EXPECT_EQ(b.data, (std::vector<float>{4, -8, std::ldexp(1.0f, -7), 1792, 0, -3}));
}

TEST(CtDecoders, Int8SignedCodesTimesChannelScale) {
  HandCheckpoint h;
  h.add("a.weight", DType::I8, {2, 3}, std::vector<int8_t>{-128, 127, 3, 0, -1, 64});
  h.add("a.weight_scale", DType::F32, {2}, std::vector<float>{0.5f, 0.25f});
  const HfCheckpoint ck = h.open();
  EXPECT_EQ(decode_ct_lowbit_linear(ck, CtLowbitFormat::Int8, "a", 2, 3).data,
            (std::vector<float>{-64, 63.5f, 1.5f, 0, -0.25f, 16}));
}

TEST(CtDecoders, Nvfp4GroupScaleOverGlobalScale) {
  HandCheckpoint h;
  // Element 2k in the low nibble of byte k. Group 0: 0.5 1 1.5 2 3 4 6 0 -0 -6 then zeros;
  // group 1: -1 -0.5 then zeros.
  std::vector<uint8_t> packed(16, 0);
  packed[0] = 0x21, packed[1] = 0x43, packed[2] = 0x65, packed[3] = 0x07, packed[4] = 0xF8;
  packed[8] = 0x9A;
  h.add("a.weight_packed", DType::U8, {1, 16}, packed);
  h.add("a.weight_scale", DType::F8_E4M3, {1, 2}, std::vector<uint8_t>{0x38, 0x30});  // 1.0, 0.5
  h.add("a.weight_global_scale", DType::F32, {1}, std::vector<float>{2.0f});
  const HfCheckpoint ck = h.open();
  const Tensor w = decode_ct_lowbit_linear(ck, CtLowbitFormat::Nvfp4, "a", 1, 32);
  std::vector<float> want(32, 0.0f);
  const float g0[10] = {0.25f, 0.5f, 0.75f, 1, 1.5f, 2, 3, 0, -0.0f, -3};  // x 1.0 / 2
  for (int i = 0; i < 10; ++i) want[size_t(i)] = g0[i];
  want[16] = -0.25f, want[17] = -0.125f;  // x 0.5 / 2
  EXPECT_EQ(w.data, want);
}

TEST(CtDecoders, Mxfp4PowerOfTwoScales) {
  HandCheckpoint h;
  std::vector<uint8_t> packed(32, 0);
  packed[0] = 0x71;   // row 0: 0.5, 6
  packed[16] = 0xC3;  // row 1: 1.5, -2
  h.add("a.weight_packed", DType::U8, {2, 16}, packed);
  h.add("a.weight_scale", DType::U8, {2, 1}, std::vector<uint8_t>{129, 120});  // 2^2, 2^-7
  const HfCheckpoint ck = h.open();
  const Tensor w = decode_ct_lowbit_linear(ck, CtLowbitFormat::Mxfp4, "a", 2, 32);
  EXPECT_EQ(w.data[0], 2.0f);
  EXPECT_EQ(w.data[1], 24.0f);
  EXPECT_EQ(w.data[32], 1.5f / 128);
  EXPECT_EQ(w.data[33], -2.0f / 128);
  EXPECT_EQ(w.data[2], 0.0f);
}

TEST(CtDecoders, ErrorsNameTheTensor) {
  HandCheckpoint h;
  h.add("a.weight", DType::F8_E4M3, {2, 3}, std::vector<uint8_t>(6, 0));
  h.add("a.weight_scale", DType::F32, {3, 1}, std::vector<float>{1, 1, 1});
  h.add("b.weight_packed", DType::U8, {1, 8}, std::vector<uint8_t>(8, 0));
  const HfCheckpoint ck = h.open();
  auto message = [&](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { decode_ct_lowbit_linear(ck, CtLowbitFormat::Float8, "a", 2, 3); }).find("a.weight_scale has shape [3, 1]"),
            std::string::npos);
  EXPECT_NE(message([&] { decode_ct_lowbit_linear(ck, CtLowbitFormat::Nvfp4, "b", 1, 16); }).find("b.weight_scale is missing"),
            std::string::npos);
  EXPECT_NE(message([&] { decode_ct_lowbit_linear(ck, CtLowbitFormat::Mxfp4, "b", 1, 16); }).find("groups of 32"),
            std::string::npos);
}

}  // namespace
}  // namespace llmq
