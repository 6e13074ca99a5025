// GgufValue (typed variant) and GgufMetadata (ordered key/value store).
#include <gtest/gtest.h>

#include "io/gguf/gguf_metadata.h"
#include "io/gguf/gguf_value.h"
#include "util/error.h"

namespace llmq {
namespace {

TEST(GgufValue, ScalarConstructorsPickTheMatchingGgufType) {
  EXPECT_EQ(GgufValue(uint8_t(1)).type(), GgufType::Uint8);
  EXPECT_EQ(GgufValue(int8_t(1)).type(), GgufType::Int8);
  EXPECT_EQ(GgufValue(uint16_t(1)).type(), GgufType::Uint16);
  EXPECT_EQ(GgufValue(int16_t(1)).type(), GgufType::Int16);
  EXPECT_EQ(GgufValue(uint32_t(1)).type(), GgufType::Uint32);
  EXPECT_EQ(GgufValue(1).type(), GgufType::Int32);
  EXPECT_EQ(GgufValue(1.5f).type(), GgufType::Float32);
  EXPECT_EQ(GgufValue(true).type(), GgufType::Bool);
  EXPECT_EQ(GgufValue("text").type(), GgufType::String);
  EXPECT_EQ(GgufValue(std::string("text")).type(), GgufType::String);
  EXPECT_EQ(GgufValue(uint64_t(1)).type(), GgufType::Uint64);
  EXPECT_EQ(GgufValue(int64_t(1)).type(), GgufType::Int64);
  EXPECT_EQ(GgufValue(1.5).type(), GgufType::Float64);
  EXPECT_FALSE(GgufValue(1).is_array());
}

TEST(GgufValue, ArraysKeepElementTypeEvenWhenEmpty) {
  GgufValue empty_floats(std::vector<float>{});
  EXPECT_TRUE(empty_floats.is_array());
  EXPECT_EQ(empty_floats.type(), GgufType::Array);
  EXPECT_EQ(empty_floats.array_type(), GgufType::Float32);
  EXPECT_EQ(empty_floats.array_size(), 0u);

  GgufValue words(std::vector<std::string>{"a", "bc"});
  EXPECT_EQ(words.array_type(), GgufType::String);
  EXPECT_EQ(words.array_size(), 2u);
  EXPECT_EQ(words.get<std::vector<std::string>>()[1], "bc");
  EXPECT_EQ(words.description(), "array of 2 string");
}

TEST(GgufValue, ArrayOfArraysRequiresArrayElements) {
  GgufValue nested(std::vector<GgufValue>{GgufValue(std::vector<std::string>{"x"}), GgufValue(std::vector<int32_t>{1, 2})});
  EXPECT_EQ(nested.array_type(), GgufType::Array);
  EXPECT_EQ(nested.array_size(), 2u);
  EXPECT_EQ(nested.get<std::vector<GgufValue>>()[1].array_type(), GgufType::Int32);
  EXPECT_THROW(GgufValue(std::vector<GgufValue>{GgufValue(3)}), Error);
}

TEST(GgufValue, WrongTypeAccessNamesBothTypes) {
  GgufValue v("hello");
  EXPECT_EQ(v.get<std::string>(), "hello");
  EXPECT_EQ(v.get_if<uint32_t>(), nullptr);
  try {
    (void)v.get<uint32_t>();
    FAIL() << "expected a type error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "expected uint32, found string");
  }
  try {
    (void)GgufValue(std::vector<float>{1, 2, 3}).get<std::vector<int32_t>>();
    FAIL() << "expected a type error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "expected array of int32, found array of 3 float32");
  }
  EXPECT_THROW((void)GgufValue(1).array_size(), Error);
}

TEST(GgufValue, LenientNumericReadsCheckRange) {
  EXPECT_EQ(GgufValue(uint32_t(4096)).to_int64(), 4096);
  EXPECT_EQ(GgufValue(int8_t(-3)).to_int64(), -3);
  EXPECT_EQ(GgufValue(uint16_t(7)).to_uint64(), 7u);
  EXPECT_THROW((void)GgufValue(int32_t(-1)).to_uint64(), Error);
  EXPECT_THROW((void)GgufValue(uint64_t(1) << 63).to_int64(), Error);
  EXPECT_THROW((void)GgufValue(1.0f).to_int64(), Error);
  EXPECT_THROW((void)GgufValue(true).to_int64(), Error);  // a bool is not a count
  EXPECT_DOUBLE_EQ(GgufValue(0.25f).to_double(), 0.25);
  EXPECT_DOUBLE_EQ(GgufValue(int64_t(-5)).to_double(), -5.0);
  EXPECT_THROW((void)GgufValue("1").to_double(), Error);
}

TEST(GgufValue, DisplayStringIsShortAndOneLine) {
  EXPECT_EQ(GgufValue(uint32_t(7)).to_display_string(), "7");
  EXPECT_EQ(GgufValue(true).to_display_string(), "true");
  EXPECT_EQ(GgufValue("a\nb").to_display_string(), "\"a\\nb\"");
  EXPECT_EQ(GgufValue(std::vector<int32_t>{1, 2, 3, 4}).to_display_string(2), "[1, 2, ... (4 values)]");
}

TEST(GgufMetadata, KeepsInsertionOrderAndReplacesInPlace) {
  GgufMetadata m;
  m.set("b", 1);
  m.set("a", 2);
  m.set("c", 3);
  m.set("a", "replaced");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.entries()[0].first, "b");
  EXPECT_EQ(m.entries()[1].first, "a");
  EXPECT_EQ(m.entries()[1].second.get<std::string>(), "replaced");
  EXPECT_EQ(m.entries()[2].first, "c");

  EXPECT_TRUE(m.remove("b"));
  EXPECT_FALSE(m.remove("b"));
  ASSERT_EQ(m.size(), 2u);
  // lookups still find the right entries after positions shifted
  EXPECT_EQ(m.find("a")->get<std::string>(), "replaced");
  EXPECT_EQ(m.find("c")->get<int32_t>(), 3);
  EXPECT_EQ(m.find("b"), nullptr);
}

}  // namespace
}  // namespace llmq
