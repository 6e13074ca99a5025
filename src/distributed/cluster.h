#pragma once
// The processes of one job started by an MPI launcher (`mpirun -np N
// llm-quantize ...`): rank r of N, possibly on several machines. A program
// started any other way, or built without MPI, is rank 0 of 1, and every
// call below is then local (no MPI call is made).
//
// Only what the job's steps need is offered: ordered point-to-point byte
// messages, a broadcast, a barrier, a shared job counter and an abort. Rank 0 writes every output file.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmq {

class Cluster {
 public:
  // Joins the job when an MPI launcher started this process (its environment
  // says so); otherwise the process stays a cluster of one. Call once, in
  // main, before any work.
  static void start(int* argc, char*** argv);
  // Leaves the job; `exit_code` != 0 on a rank of a job of several stops every rank (MPI_Abort).
  static void stop(int exit_code);
  static Cluster& get();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool single() const { return size_ == 1; }
  // Processes the launcher started (size() is 1 on rank 0 once it works alone).
  int processes() const { return world_; }
  bool is_root() const { return rank_ == 0; }
  // For work that is not distributed: rank 0 carries on as a cluster of one
  // (every call local), the other ranks are expected to stop.
  void work_alone() { size_ = 1; }

  // "rank 1 of 3 on node7": for messages.
  std::string where() const;

  void barrier();
  // Point-to-point messages of any length; between one pair of ranks they
  // arrive in the order sent (MPI's non-overtaking rule).
  void send(int to, int tag, const void* data, size_t n);
  void send(int to, int tag, const std::vector<uint8_t>& bytes) { send(to, tag, bytes.data(), bytes.size()); }
  std::vector<uint8_t> receive(int from, int tag);
  // A message with `tag` from any rank (its sender in *from); `wait` false:
  // std::nullopt at once when none has arrived.
  std::optional<std::vector<uint8_t>> receive_any(int tag, int* from, bool wait);
  // Root's bytes on every rank.
  void broadcast(std::vector<uint8_t>& bytes, int root);
  // Root's value on every rank (returned).
  int64_t broadcast(int64_t value, int root);
  // Whether every rank passed ok = true.
  bool all_ok(bool ok);

  // For tests: a cluster of one whatever the environment.
  Cluster() = default;

 private:
  int rank_ = 0, size_ = 1;
  int world_ = 1;  // processes the launcher started (size_ becomes 1 when rank 0 works alone)
  std::string host_;
  bool joined_ = false;
};

// Hands out 0, 1, 2, ... across every rank of the cluster, each number
// once: ranks that finish early take more jobs (dynamic hand-out). Every
// rank must construct and destroy it together (collective).
class JobCounter {
 public:
  explicit JobCounter(Cluster& cluster);
  ~JobCounter();
  JobCounter(const JobCounter&) = delete;
  JobCounter& operator=(const JobCounter&) = delete;
  int64_t next();

 private:
  Cluster& cluster_;
  int64_t local_ = 0;    // the counter of a cluster of one
  void* window_ = nullptr;  // MPI_Win (opaque here, so that this header needs no mpi.h)
  int64_t* base_ = nullptr;
};

// Whether this build can join an MPI job.
bool built_with_mpi();

}  // namespace llmq
