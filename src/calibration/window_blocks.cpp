#include "calibration/window_blocks.h"

#include <algorithm>
#include <memory>

#include "distributed/byte_codec.h"
#include "util/error.h"

namespace llmq {

namespace {

// Tag of the running totals passed from rank to rank.
constexpr int kChainTag = 7100;

std::vector<std::unique_ptr<Collector>> empty_clones(const std::vector<Collector*>& totals) {
  std::vector<std::unique_ptr<Collector>> out;
  for (const Collector* c : totals) out.push_back(c->empty_clone());
  return out;
}

std::vector<Collector*> pointers(const std::vector<std::unique_ptr<Collector>>& v) {
  std::vector<Collector*> out;
  for (const auto& c : v) out.push_back(c.get());
  return out;
}

// Every collector's state in one message, and back.
std::vector<uint8_t> states_bytes(const std::vector<Collector*>& collectors) {
  ByteWriter w;
  w.put<uint64_t>(collectors.size());
  for (const Collector* c : collectors) w.put_vector(collector_state_bytes(c->save_state()));
  return std::move(w.bytes());
}

void load_states(const std::vector<Collector*>& collectors, const std::vector<uint8_t>& bytes, const std::string& what) {
  ByteReader r(bytes, what);
  if (r.get<uint64_t>() != collectors.size()) fail("{}: wrong number of collectors", what);
  for (Collector* c : collectors) c->load_state(collector_state_from_bytes(r.get_vector<uint8_t>(), c->name()));
}

}  // namespace

WindowBlocks::WindowBlocks(int64_t windows, int64_t windows_per_block) {
  if (windows_per_block < 1) fail("window blocks of {} windows", windows_per_block);
  for (int64_t w = 0; w < windows; w += windows_per_block) starts_.push_back(w);
  starts_.push_back(windows);
}

std::pair<int64_t, int64_t> blocks_of_rank(const WindowBlocks& blocks, int64_t first_block, int rank, int ranks) {
  const int64_t left = std::max<int64_t>(0, blocks.count() - first_block);
  return {first_block + left * rank / ranks, first_block + left * (rank + 1) / ranks};
}

std::pair<int64_t, int64_t> windows_of_rank(const WindowBlocks& blocks, int64_t first_block, int rank, int ranks) {
  const auto [b0, b1] = blocks_of_rank(blocks, first_block, rank, ranks);
  return {b0 < b1 ? blocks.first_window(b0) : 0, b0 < b1 ? blocks.end_window(b1 - 1) : 0};
}

void collect_in_blocks(const std::vector<Collector*>& totals, const WindowBlocks& blocks, Cluster& cluster,
                       const BlockRunner& run, Delivery delivery, int64_t first_block,
                       const std::function<void(int64_t, bool)>& after_block) {
  // Blocks before first_block are already in the totals; the rest are shared out afresh.
  const int ranks = cluster.size(), me = cluster.rank();
  const int64_t left = std::max<int64_t>(0, blocks.count() - first_block);
  auto run_block = [&](int64_t b) {
    auto block = empty_clones(totals);
    run(blocks.first_window(b), blocks.end_window(b), pointers(block));
    return block;
  };
  auto merge_block = [&](const std::vector<std::unique_ptr<Collector>>& block) {
    for (size_t i = 0; i < totals.size(); ++i) totals[i]->merge(*block[i]);
  };

  // The totals pass along the ranks in order (0 -> 1 -> ... -> N-1), each rank
  // adding its blocks in window order: the sums are those of one process, and
  // only N - 1 totals travel, not one per block.
  const auto [first, end] = blocks_of_rank(blocks, first_block, me, ranks);
  if (me == 0) {
    for (int64_t b = first; b < end; ++b) {
      merge_block(run_block(b));  // rank 0 adds as it goes: at most one block's statistics on top of the totals
      if (after_block) after_block(b, true);
    }
  } else {
    std::vector<std::vector<std::unique_ptr<Collector>>> mine;  // held until the totals of the blocks before arrive
    for (int64_t b = first; b < end; ++b) mine.push_back(run_block(b));
    load_states(totals, cluster.receive(me - 1, kChainTag), "totals from the previous rank");
    for (const auto& block : mine) merge_block(block);
  }
  if (me + 1 < ranks) cluster.send(me + 1, kChainTag, states_bytes(totals));

  const int last = ranks - 1;
  if (delivery == Delivery::All) {
    std::vector<uint8_t> bytes;
    if (me == last) bytes = states_bytes(totals);
    cluster.broadcast(bytes, last);
    if (me != last) load_states(totals, bytes, "totals of the last rank");
  } else if (delivery == Delivery::Root && last > 0) {
    if (me == last) cluster.send(0, kChainTag, states_bytes(totals));
    if (me == 0) load_states(totals, cluster.receive(last, kChainTag), "totals of the last rank");
  }
  if (me == 0 && after_block)
    for (int64_t b = end; b < first_block + left; ++b) after_block(b, false);
}

std::vector<uint8_t> collector_state_bytes(const CollectorState& state) {
  ByteWriter w;
  w.put<uint64_t>(state.size());
  for (const auto& [name, values] : state) {
    w.put_string(name);
    w.put_vector(values);
  }
  return std::move(w.bytes());
}

CollectorState collector_state_from_bytes(const std::vector<uint8_t>& bytes, const std::string& what) {
  ByteReader r(bytes, what + " state");
  CollectorState st;
  const uint64_t n = r.get<uint64_t>();
  for (uint64_t i = 0; i < n; ++i) {
    std::string name = r.get_string();
    st[name] = r.get_vector<double>();
  }
  if (!r.done()) fail("{} state: {} bytes left over", what, bytes.size());
  return st;
}

}  // namespace llmq
