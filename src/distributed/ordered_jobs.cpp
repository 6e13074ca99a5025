#include "distributed/ordered_jobs.h"

#include <cstring>
#include <map>

#include "util/error.h"

namespace llmq {

namespace {

constexpr int kResultTag = 7200;

// A result travels as [job index][bytes].
std::vector<uint8_t> with_index(int64_t j, std::vector<uint8_t> bytes) {
  bytes.insert(bytes.begin(), sizeof j, 0);
  std::memcpy(bytes.data(), &j, sizeof j);
  return bytes;
}

int64_t split_index(std::vector<uint8_t>& msg, int from) {
  int64_t j = 0;
  if (msg.size() < sizeof j) fail("a result from rank {} is {} bytes long, shorter than its header", from, msg.size());
  std::memcpy(&j, msg.data(), sizeof j);
  msg.erase(msg.begin(), msg.begin() + sizeof j);
  return j;
}

}  // namespace

void run_ordered_jobs(Cluster& cluster, int64_t n, const std::function<std::vector<uint8_t>(int64_t)>& produce,
                      const std::function<void(int64_t, std::vector<uint8_t>&)>& consume) {
  if (cluster.single()) {
    for (int64_t j = 0; j < n; ++j) {
      std::vector<uint8_t> r = produce(j);
      consume(j, r);
    }
    return;
  }
  JobCounter counter(cluster);
  if (!cluster.is_root()) {
    for (int64_t j = counter.next(); j < n; j = counter.next()) cluster.send(0, kResultTag, with_index(j, produce(j)));
    return;
  }
  std::map<int64_t, std::vector<uint8_t>> ready;
  int64_t next_write = 0;
  bool claiming = true;
  auto take = [&](std::vector<uint8_t> msg, int from) {
    const int64_t j = split_index(msg, from);
    if (j < next_write || j >= n || ready.count(j)) fail("rank {} sent a result for job {}, which is not pending", from, j);
    ready[j] = std::move(msg);
  };
  while (next_write < n) {
    for (auto it = ready.find(next_write); it != ready.end(); it = ready.find(next_write)) {
      consume(next_write++, it->second);
      ready.erase(it);
    }
    if (next_write >= n) break;
    int from = -1;
    // Take what the others have finished first, so that they never wait on rank 0's own work for long.
    while (auto msg = cluster.receive_any(kResultTag, &from, false)) take(std::move(*msg), from);
    if (ready.count(next_write)) continue;
    if (claiming) {
      const int64_t j = counter.next();
      if (j < n) ready[j] = produce(j);
      else claiming = false;
      continue;
    }
    auto msg = cluster.receive_any(kResultTag, &from, true);
    take(std::move(*msg), from);
  }
}

}  // namespace llmq
