#pragma once
// Jobs 0..n-1 (tensors of a file, in file order) shared out over the ranks
// of a cluster, each rank taking the next unclaimed job when it finishes one
// (so expensive jobs balance themselves), and every job's result handed to
// rank 0 in job order, where it is written. Results are produced the same way
// whichever rank runs a job, so the output is byte-identical for any number
// of ranks. On a cluster of one this is a plain loop.
//
// Rank 0 buffers results that arrive ahead of the next one to write; because
// jobs are claimed in order, that is at most about one job per rank.
#include <cstdint>
#include <functional>
#include <vector>

#include "distributed/cluster.h"

namespace llmq {

// produce(j): job j's result, on whichever rank claimed it.
// consume(j, bytes): on rank 0 only, for j = 0, 1, ..., n-1 in order.
void run_ordered_jobs(Cluster& cluster, int64_t n, const std::function<std::vector<uint8_t>(int64_t)>& produce,
                      const std::function<void(int64_t, std::vector<uint8_t>&)>& consume);

}  // namespace llmq
