// llmq-fuzz: the long fuzzing harness of the file readers (issue 21).
//
//   llmq-fuzz TARGET [--seconds 600] [--seed N] [--timeout-ms 10000] [--memory-mb 4096] [--keep DIR]
//   llmq-fuzz TARGET --replay FILE...
//
// Mutates the target's seeds and kept inputs (tests/fuzz/corpus/TARGET) and
// runs every input in a child process with an address-space limit and an
// alarm, so a crash, a hang, an allocation before validation (bad_alloc under
// the limit) or a refusal that does not name the file is caught and its input
// kept in DIR (default: the corpus folder, replayed by CI's test_fuzz).
// Targets: safetensors, gguf, config, tokenizer, imatrix.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"
#include "fuzz/mutator.h"
#include "util/checksum.h"

using namespace llmq::fuzz;
namespace fs = std::filesystem;

namespace {

struct Args {
  std::string target;
  double seconds = 600;
  uint64_t seed = 1;
  int timeout_ms = 10000;
  uint64_t memory_mb = 4096;
  fs::path keep;
  std::vector<std::string> replay;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "llmq-fuzz: %s\nusage: llmq-fuzz TARGET [--seconds S] [--seed N] [--timeout-ms MS] "
               "[--memory-mb MB] [--keep DIR] | TARGET --replay FILE...\n", why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) usage("no target");
  a.target = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value of " + k).c_str());
      return argv[++i];
    };
    if (k == "--seconds") a.seconds = std::stod(value());
    else if (k == "--seed") a.seed = std::stoull(value());
    else if (k == "--timeout-ms") a.timeout_ms = std::stoi(value());
    else if (k == "--memory-mb") a.memory_mb = std::stoull(value());
    else if (k == "--keep") a.keep = value();
    else if (k == "--replay") {
      while (i + 1 < argc) a.replay.push_back(argv[++i]);
      if (a.replay.empty()) usage("--replay needs files");
    } else usage(("unknown option " + k).c_str());
  }
  return a;
}

enum class Outcome { Accepted, Refused, Finding, Crash, Hang };

// Runs one input in a child: limits, alarm, and the outcome from its status.
Outcome run_in_child(const Workspace& ws, const std::string& bytes, const Args& a, std::string& message) {
  int pipefd[2];
  if (pipe(pipefd) != 0) std::perror("pipe"), std::exit(1);
  const pid_t pid = fork();
  if (pid < 0) std::perror("fork"), std::exit(1);
  if (pid == 0) {
    close(pipefd[0]);
    const rlimit lim{a.memory_mb << 20, a.memory_mb << 20};
    setrlimit(RLIMIT_AS, &lim);
    ualarm(0, 0);
    alarm(unsigned((a.timeout_ms + 999) / 1000));
    int code = 0;
    try {
      std::string refusal;
      code = ws.run(bytes, &refusal) ? 0 : 1;
      (void)!write(pipefd[1], refusal.data(), refusal.size());
    } catch (const Finding& f) {
      (void)!write(pipefd[1], f.what(), std::strlen(f.what()));
      code = 3;
    }
    _exit(code);
  }
  close(pipefd[1]);
  char buf[4096];
  ssize_t n;
  message.clear();
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) message.append(buf, size_t(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    message = std::string("signal ") + strsignal(WTERMSIG(status));
    return WTERMSIG(status) == SIGALRM ? Outcome::Hang : Outcome::Crash;
  }
  switch (WEXITSTATUS(status)) {
    case 0: return Outcome::Accepted;
    case 1: return Outcome::Refused;
    default: return Outcome::Finding;
  }
}

// Seeds are made in a child: making the GGUF seed starts OpenMP threads,
// which a later fork would not carry. The parent reads the cached files.
std::vector<std::string> seeds(const Target& t, const fs::path& scratch) {
  const pid_t pid = fork();
  if (pid == 0) {
    seed_inputs(t, scratch);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::fprintf(stderr, "llmq-fuzz: making seeds failed\n"), std::exit(1);
  return seed_inputs(t, scratch);
}

}  // namespace

int main(int argc, char** argv) {
  // One thread per child: set before the math libraries read their settings.
  if (!std::getenv("OMP_NUM_THREADS")) {
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
  }
  const Args a = parse(argc, argv);
  const Target* t = nullptr;
  try {
    t = &target(a.target);
  } catch (const std::exception& e) {
    usage(e.what());
  }
  const fs::path scratch = fs::temp_directory_path() / ("llmq-fuzz-" + std::to_string(getpid()));
  const Workspace ws(*t, scratch / "work");
  const fs::path keep = a.keep.empty() ? corpus_dir(*t) : a.keep;
  int findings = 0;
  auto report = [&](Outcome o, const std::string& bytes, const std::string& message) {
    if (o != Outcome::Finding && o != Outcome::Crash && o != Outcome::Hang) return;
    ++findings;
    llmq::Checksum c;
    c.add(bytes.data(), bytes.size());
    const char* kind = o == Outcome::Crash ? "crash" : o == Outcome::Hang ? "hang" : "finding";
    fs::create_directories(keep);
    const fs::path out = keep / (std::string(kind) + "-" + c.hex());
    std::ofstream(out, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    std::printf("%s: %s (kept as %s)\n", kind, message.c_str(), out.c_str());
    std::fflush(stdout);
  };

  if (!a.replay.empty()) {
    for (const std::string& f : a.replay) {
      std::string message;
      const Outcome o = run_in_child(ws, read_bytes(f), a, message);
      std::printf("%s: %s%s%s\n", f.c_str(),
                  o == Outcome::Accepted ? "read" : o == Outcome::Refused ? "refused" : "FAILED",
                  message.empty() ? "" : ": ", message.c_str());
      if (o != Outcome::Accepted && o != Outcome::Refused) ++findings;
    }
    fs::remove_all(scratch);
    return findings ? 1 : 0;
  }

  std::vector<std::string> pool = seeds(*t, scratch / "seeds");
  if (fs::is_directory(corpus_dir(*t)))
    for (const auto& e : fs::directory_iterator(corpus_dir(*t)))
      if (e.is_regular_file() && e.path().extension() != ".md") pool.push_back(read_bytes(e.path()));
  const size_t n_seeds = pool.size();
  Mutator m(a.seed);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  long execs = 0, accepted = 0, refused = 0;
  double next_report = 10;
  while (elapsed() < a.seconds) {
    const std::string& base = pool[m.pick(pool.size())];
    const std::string input = m.mutate(base, pool[m.pick(pool.size())], t->mutable_prefix);
    std::string message;
    const Outcome o = run_in_child(ws, input, a, message);
    ++execs;
    if (o == Outcome::Accepted) {
      ++accepted;
      // Accepted variants widen the search (no coverage feedback here).
      if (m.pick(16) == 0) {
        if (pool.size() < n_seeds + 64) pool.push_back(input);
        else pool[n_seeds + m.pick(64)] = input;
      }
    } else if (o == Outcome::Refused) {
      ++refused;
    }
    report(o, input, message);
    if (elapsed() > next_report) {
      std::printf("%s: %.0f s, %ld inputs (%.0f/s), %ld read, %ld refused, %d findings\n", t->name.c_str(), elapsed(),
                  execs, double(execs) / elapsed(), accepted, refused, findings);
      std::fflush(stdout);
      next_report += 10;
    }
  }
  std::printf("%s: %ld inputs in %.0f s, %ld read, %ld refused, %d findings\n", t->name.c_str(), execs, elapsed(),
              accepted, refused, findings);
  fs::remove_all(scratch);
  return findings ? 1 : 0;
}
