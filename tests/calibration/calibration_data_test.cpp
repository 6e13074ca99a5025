// Calibration text formats and window selection.
#include <fstream>

#include <gtest/gtest.h>

#include "calibration/calibration_data.h"
#include "common/fixtures.h"
#include "util/error.h"

namespace llmq {
namespace {

using test::TempDir;

void write(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
}

TEST(CalibrationText, ReadsPlainText) {
  TempDir d;
  write(d / "a.txt", "[not json] hello\nworld\n");
  CalibrationText t = read_calibration_text(d / "a.txt");
  EXPECT_EQ(t.format, "text");
  EXPECT_EQ(t.documents, 1);
  EXPECT_EQ(t.text, "[not json] hello\nworld\n");
}

TEST(CalibrationText, ReadsJsonArrayOfStrings) {
  TempDir d;
  write(d / "a.data", R"(["first doc", "second doc", ""])");
  CalibrationText t = read_calibration_text(d / "a.data");
  EXPECT_EQ(t.format, "json");
  EXPECT_EQ(t.documents, 3);
  EXPECT_EQ(t.text, "first doc\n\nsecond doc");
}

TEST(CalibrationText, ReadsJsonLinesTextField) {
  TempDir d;
  write(d / "a.jsonl", "{\"text\": \"one\", \"id\": 1}\n\n{\"text\": \"two\"}\n");
  CalibrationText t = read_calibration_text(d / "a.jsonl");
  EXPECT_EQ(t.format, "jsonl");
  EXPECT_EQ(t.documents, 2);
  EXPECT_EQ(t.text, "one\n\ntwo");
  // Detected by content too.
  write(d / "b.txt", "{\"text\": \"one\"}\n{\"text\": \"two\"}\n");
  EXPECT_EQ(read_calibration_text(d / "b.txt").format, "jsonl");
}

TEST(CalibrationText, ErrorsNameTheFileAndProblem) {
  TempDir d;
  write(d / "empty.txt", "  \n");
  write(d / "bad.jsonl", "{\"text\": \"one\"}\n{\"txt\": \"two\"}\n");
  write(d / "bad.json", R"({"text": 3})");
  auto message = [](const std::string& p) {
    try {
      read_calibration_text(p);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(d / "empty.txt").find("empty.txt: calibration data is empty"), std::string::npos);
  EXPECT_NE(message(d / "bad.jsonl").find("bad.jsonl: line 2"), std::string::npos);
  EXPECT_NE(message(d / "bad.json").find("bad.json: JSON calibration data must be an array"), std::string::npos);
  EXPECT_NE(message(d / "missing.txt").find("cannot open"), std::string::npos);
}

std::vector<int32_t> iota_tokens(int n) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[size_t(i)] = i;
  return t;
}

TEST(CalibrationWindows, DeterministicNonOverlappingWindowsFromSeed) {
  const auto tokens = iota_tokens(1000);
  CalibrationWindows a = select_windows(tokens, {5, 64, 7});
  CalibrationWindows b = select_windows(tokens, {5, 64, 7});
  CalibrationWindows c = select_windows(tokens, {5, 64, 8});
  ASSERT_EQ(a.windows.size(), 5u);
  EXPECT_EQ(a.windows_available, 15);
  EXPECT_FALSE(a.fewer_than_requested());
  EXPECT_EQ(a.starts, b.starts);
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_NE(a.starts, c.starts);
  EXPECT_NE(a.fingerprint(), c.fingerprint());
  for (size_t i = 0; i < a.windows.size(); ++i) {
    ASSERT_EQ(a.windows[i].size(), 64u);
    EXPECT_EQ(a.starts[i] % 64, 0);
    EXPECT_EQ(a.windows[i][0], a.starts[i]);  // window i holds tokens starts[i] ..
    if (i) {
      EXPECT_GT(a.starts[i], a.starts[i - 1]);
    }
  }
  EXPECT_EQ(a.tokens(), 5 * 64);
}

TEST(CalibrationWindows, SequentialTakesTheFirstWindows) {
  WindowOptions o{3, 100, 42};
  o.sequential = true;
  CalibrationWindows w = select_windows(iota_tokens(1000), o);
  EXPECT_EQ(w.starts, (std::vector<int64_t>{0, 100, 200}));
}

TEST(CalibrationWindows, ShortTextGivesAllWindowsAndSaysSo) {
  const auto tokens = iota_tokens(300);
  CalibrationWindows w = select_windows(tokens, {10, 64, 0});
  EXPECT_EQ(w.windows.size(), 4u);
  EXPECT_TRUE(w.fewer_than_requested());
  CalibrationWindows tiny = select_windows(iota_tokens(20), {2, 64, 0});
  ASSERT_EQ(tiny.windows.size(), 1u);  // one shorter window rather than none
  EXPECT_EQ(tiny.windows[0].size(), 20u);
  EXPECT_EQ(tiny.windows_available, 0);
}

TEST(CalibrationWindows, BosReplacesFirstToken) {
  CalibrationWindows w = select_windows(iota_tokens(256), {2, 64, 3}, 9999);
  ASSERT_EQ(w.windows.size(), 2u);
  for (size_t i = 0; i < w.windows.size(); ++i) {
    EXPECT_EQ(w.windows[i][0], 9999);
    EXPECT_EQ(w.windows[i][1], w.starts[i] + 1);
  }
}

TEST(CalibrationText, DefaultIsSharedCalibrationTextForBundledModel) {
  auto p = default_calibration_path(test::model_dir("tiny-llama"));
  ASSERT_TRUE(p.has_value());
  EXPECT_NE(p->find("calibration.txt"), std::string::npos);
}

}  // namespace
}  // namespace llmq
