#include "distributed/cluster.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "util/error.h"

#ifdef LLMQ_HAVE_MPI
#include <mpi.h>
#endif

namespace llmq {

namespace {

Cluster& the_cluster() {
  static Cluster c;
  return c;
}

// OpenMPI, MPICH and PMIx launchers set these; a plain start sets none.
bool started_by_mpi_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

#ifdef LLMQ_HAVE_MPI
// MPI counts in int; longer messages go in pieces of this many bytes.
constexpr size_t kChunk = size_t(1) << 30;

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) fail("MPI {} failed (code {})", what, rc);
}
#endif

}  // namespace

bool built_with_mpi() {
#ifdef LLMQ_HAVE_MPI
  return true;
#else
  return false;
#endif
}

Cluster& Cluster::get() { return the_cluster(); }

void Cluster::start(int* argc, char*** argv) {
  Cluster& c = the_cluster();
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  c.host_ = host;
#ifdef LLMQ_HAVE_MPI
  if (!started_by_mpi_launcher() || c.joined_) return;
  // One thread talks to MPI; OpenMP threads never do.
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  // Errors come back as codes (turned into llmq::Error) instead of killing the job silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &c.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &c.size_);
  c.world_ = c.size_;
  c.joined_ = true;
#else
  if (started_by_mpi_launcher() && std::getenv("OMPI_COMM_WORLD_RANK") && std::atoi(std::getenv("OMPI_COMM_WORLD_RANK")) > 0)
    std::fprintf(stderr, "warning: this llm-quantize was built without MPI; every rank runs the whole job\n");
#endif
}

void Cluster::stop(int exit_code) {
#ifdef LLMQ_HAVE_MPI
  Cluster& c = the_cluster();
  if (!c.joined_) return;
  if (exit_code != 0 && c.world_ > 1) {
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);  // the other ranks may be waiting for this one
  }
  MPI_Finalize();
  c.joined_ = false;
#endif
}

std::string Cluster::where() const { return fmt::format("rank {} of {} on {}", rank_, world_, host_); }

void Cluster::barrier() {
#ifdef LLMQ_HAVE_MPI
  if (joined_) check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
#endif
}

void Cluster::send(int to, int tag, const void* data, size_t n) {
#ifdef LLMQ_HAVE_MPI
  if (!joined_) fail("cluster of one: no rank {} to send to", to);
  const uint64_t len = n;
  check(MPI_Send(&len, 1, MPI_UINT64_T, to, tag, MPI_COMM_WORLD), "send");
  const char* p = static_cast<const char*>(data);
  for (size_t off = 0; off < n; off += kChunk)
    check(MPI_Send(p + off, int(std::min(kChunk, n - off)), MPI_BYTE, to, tag, MPI_COMM_WORLD), "send");
#else
  fail("cluster of one: no rank {} to send to", to);
#endif
}

std::vector<uint8_t> Cluster::receive(int from, int tag) {
#ifdef LLMQ_HAVE_MPI
  if (!joined_) fail("cluster of one: no rank {} to receive from", from);
  uint64_t len = 0;
  check(MPI_Recv(&len, 1, MPI_UINT64_T, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive");
  std::vector<uint8_t> out(len);
  for (size_t off = 0; off < len; off += kChunk)
    check(MPI_Recv(out.data() + off, int(std::min<size_t>(kChunk, len - off)), MPI_BYTE, from, tag, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE),
          "receive");
  return out;
#else
  fail("cluster of one: no rank {} to receive from", from);
#endif
}

std::optional<std::vector<uint8_t>> Cluster::receive_any(int tag, int* from, bool wait) {
#ifdef LLMQ_HAVE_MPI
  if (!joined_) fail("cluster of one: no rank to receive from");
  MPI_Status st;
  if (wait) {
    check(MPI_Probe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &st), "probe");
  } else {
    int flag = 0;
    check(MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, &st), "probe");
    if (!flag) return std::nullopt;
  }
  // The probed message is the sender's length header; its pieces follow from the same rank.
  *from = st.MPI_SOURCE;
  return receive(st.MPI_SOURCE, tag);
#else
  fail("cluster of one: no rank to receive from");
#endif
}

void Cluster::broadcast(std::vector<uint8_t>& bytes, int root) {
#ifdef LLMQ_HAVE_MPI
  if (!joined_ || size_ == 1) return;
  uint64_t len = bytes.size();
  check(MPI_Bcast(&len, 1, MPI_UINT64_T, root, MPI_COMM_WORLD), "broadcast");
  bytes.resize(len);
  for (size_t off = 0; off < len; off += kChunk)
    check(MPI_Bcast(bytes.data() + off, int(std::min<size_t>(kChunk, len - off)), MPI_BYTE, root, MPI_COMM_WORLD),
          "broadcast");
#endif
}

int64_t Cluster::broadcast(int64_t value, int root) {
  std::vector<uint8_t> bytes(sizeof value);
  std::memcpy(bytes.data(), &value, sizeof value);
  broadcast(bytes, root);
  if (bytes.size() != sizeof value) fail("broadcast of a number: {} bytes arrived", bytes.size());
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

bool Cluster::all_ok(bool ok) {
#ifdef LLMQ_HAVE_MPI
  if (!joined_ || size_ == 1) return ok;
  int mine = ok ? 1 : 0, all = 0;
  check(MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "allreduce");
  return all == 1;
#else
  return ok;
#endif
}

JobCounter::JobCounter(Cluster& cluster) : cluster_(cluster) {
#ifdef LLMQ_HAVE_MPI
  if (cluster_.single()) return;
  MPI_Win win;
  check(MPI_Win_allocate(cluster_.is_root() ? sizeof(int64_t) : 0, sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD,
                         &base_, &win),
        "window allocation");
  if (cluster_.is_root()) {
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win);
    *base_ = 0;
    MPI_Win_unlock(0, win);
  }
  window_ = new MPI_Win(win);
  cluster_.barrier();  // nobody counts before rank 0 has set the counter
#endif
}

JobCounter::~JobCounter() {
#ifdef LLMQ_HAVE_MPI
  if (!window_) return;
  MPI_Win* win = static_cast<MPI_Win*>(window_);
  MPI_Win_free(win);
  delete win;
#endif
}

int64_t JobCounter::next() {
#ifdef LLMQ_HAVE_MPI
  if (window_) {
    MPI_Win win = *static_cast<MPI_Win*>(window_);
    const int64_t one = 1;
    int64_t old = 0;
    check(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win), "window lock");
    check(MPI_Fetch_and_op(&one, &old, MPI_INT64_T, 0, 0, MPI_SUM, win), "fetch-and-add");
    check(MPI_Win_unlock(0, win), "window unlock");
    return old;
  }
#endif
  return local_++;
}

}  // namespace llmq
