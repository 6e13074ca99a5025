// SpillMemory keeps allocations in memory up to its budget and maps unlinked
// files past it: both kinds hold their values, nothing shows in the folder,
// and the counts go back to zero when the memory is given back.
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "util/error.h"
#include "util/spill_memory.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;

TEST(SpillMemory, PastTheBudgetGoesToInvisibleFiles) {
  test::TempDir tmp;
  const std::string dir = tmp / "spill";
  SpillMemory mem(4000, dir);
  using Vec = std::vector<float, SpillAllocator<float>>;
  {
    Vec a(800, 1.5f, SpillAllocator<float>(&mem));  // 3200 bytes: within the budget
    EXPECT_EQ(mem.ram_bytes(), 3200);
    EXPECT_EQ(mem.spilled_bytes(), 0);
    Vec b(1000, 0.0f, SpillAllocator<float>(&mem));  // 4000 more: past it
    EXPECT_EQ(mem.spilled_bytes(), 4000);
    for (size_t i = 0; i < b.size(); ++i) b[i] = float(i) * 0.25f;
    for (size_t i = 0; i < b.size(); ++i) ASSERT_EQ(b[i], float(i) * 0.25f);
    for (float v : a) ASSERT_EQ(v, 1.5f);
    EXPECT_TRUE(fs::is_empty(dir));  // unlinked: nothing to clean up after a crash
    Vec c = b;  // copies take the same memory
    EXPECT_EQ(c[999], b[999]);
    EXPECT_EQ(mem.spilled_bytes(), 8000);
  }
  EXPECT_EQ(mem.ram_bytes(), 0);
  EXPECT_EQ(mem.spilled_bytes(), 0);
  EXPECT_EQ(mem.peak_spilled_bytes(), 8000);
  // No SpillMemory: ordinary memory.
  std::vector<float, SpillAllocator<float>> plain(10, 2.0f);
  EXPECT_EQ(plain[9], 2.0f);
}

TEST(SpillMemory, AFolderThatCannotBeMadeIsAnError) {
  test::TempDir tmp;
  const std::string file = tmp / "a-file";
  { std::FILE* f = std::fopen(file.c_str(), "w"); std::fclose(f); }
  EXPECT_THROW(SpillMemory(0, file + "/spill"), Error);
}

}  // namespace
}  // namespace llmq
