#pragma once
// Calibration windows in fixed blocks of consecutive windows: the unit a
// process of a distributed job takes, and the unit of summation. Each block
// is collected into fresh collectors (partial sums from zero) and the blocks
// are merged in window order, so floating-point sums come out bit-identical
// whether one process ran every block or N processes shared them. The block
// size is fixed by the caller (never by N); a single process runs the same
// blocks, one after another.
//
//   WindowBlocks blocks(windows.size(), kAnalysisWindowsPerBlock);
//   collect_in_blocks({&imatrix, &routing}, blocks, cluster, [&](int64_t first, int64_t last,
//                     const std::vector<Collector*>& into) { ...run windows [first, last) into `into`... },
//                     Delivery::Root);
#include <cstdint>
#include <functional>
#include <vector>

#include "calibration/collector.h"
#include "distributed/cluster.h"

namespace llmq {

class WindowBlocks {
 public:
  WindowBlocks(int64_t windows, int64_t windows_per_block);
  int64_t count() const { return int64_t(starts_.size()) - 1; }
  int64_t first_window(int64_t block) const { return starts_[size_t(block)]; }
  int64_t end_window(int64_t block) const { return starts_[size_t(block) + 1]; }

 private:
  std::vector<int64_t> starts_;
};

// The blocks [first, end) rank `rank` of `ranks` runs when blocks from
// `first_block` on are shared out: contiguous, as even in count as the
// blocks allow (ranks past the block count get none).
std::pair<int64_t, int64_t> blocks_of_rank(const WindowBlocks& blocks, int64_t first_block, int rank, int ranks);
// The same as windows [first, end).
std::pair<int64_t, int64_t> windows_of_rank(const WindowBlocks& blocks, int64_t first_block, int rank, int ranks);

// Who ends up with the merged statistics: rank 0, every rank, or only the
// last rank of the chain (rank N - 1), for callers that send parts onwards themselves.
enum class Delivery { Root, All, Last };

// Runs window blocks [first, end) into `into` (fresh collectors of the same configuration as the totals).
using BlockRunner = std::function<void(int64_t first_window, int64_t end_window, const std::vector<Collector*>& into)>;

// Collects every block of `blocks` from `first_block` on into `totals`
// (which hold the blocks before it: a resumed run), this rank running the
// blocks it owns (blocks_of_rank). The running totals then pass from
// rank to rank, each adding its blocks in order (N - 1 messages of one
// state each). With Delivery::Root only rank 0's totals are complete; with
// Delivery::All every rank's are. `after_block(b, ran_here)` runs on rank 0
// once block b is in its totals: its own blocks as they finish (the totals
// then hold exactly the windows before the block's end: checkpoints), the
// others' at the end.
void collect_in_blocks(const std::vector<Collector*>& totals, const WindowBlocks& blocks, Cluster& cluster,
                       const BlockRunner& run, Delivery delivery, int64_t first_block = 0,
                       const std::function<void(int64_t block, bool ran_here)>& after_block = {});

// A collector's state as bytes and back (the message one rank sends another).
std::vector<uint8_t> collector_state_bytes(const CollectorState& state);
CollectorState collector_state_from_bytes(const std::vector<uint8_t>& bytes, const std::string& what);

}  // namespace llmq
