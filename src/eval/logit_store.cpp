#include "eval/logit_store.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "util/atomic_output.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

constexpr size_t kFixedHeaderBytes = 40;

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

template <typename T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

BaseLogits BaseLogits::open(const std::string& path) {
  BaseLogits b;
  b.path_ = path;
  b.file_ = MappedFile(path);
  const uint8_t* p = b.file_.data();
  const size_t size = b.file_.size();
  if (size < kFixedHeaderBytes || std::memcmp(p, kBaseLogitsMagic, 8) != 0)
    throw file_error(path, "not a base-logits file (no LLMQLOGP header)");
  const uint32_t version = get<uint32_t>(p + 8);
  if (version != kBaseLogitsVersion)
    throw file_error(path, fmt::format("base-logits version {} is not supported (expected {})", version,
                                       kBaseLogitsVersion));
  b.vocab_ = get<uint32_t>(p + 12);
  b.plan_.ctx = get<uint32_t>(p + 16);
  b.plan_.score_from = get<uint32_t>(p + 20);
  b.plan_.windows = get<uint32_t>(p + 24);
  b.record_bytes_ = get<uint32_t>(p + 28);
  const uint64_t meta_bytes = get<uint64_t>(p + 32);
  if (b.vocab_ <= 0 || b.plan_.ctx < 2 || b.plan_.score_from >= b.plan_.ctx || b.plan_.windows <= 0)
    throw file_error(path, "base-logits header has an impossible vocab, window size or window count");
  if (b.record_bytes_ != log_prob_record_bytes(b.vocab_))
    throw file_error(path, fmt::format("base-logits record size {} does not match vocab {}", b.record_bytes_, b.vocab_));
  if (meta_bytes > size - kFixedHeaderBytes) throw file_error(path, "base-logits file is truncated (metadata)");

  const size_t tokens_at = round_up(kFixedHeaderBytes + meta_bytes, 16);
  const size_t n_tokens = size_t(b.plan_.tokens_needed());
  const size_t records_at = round_up(tokens_at + n_tokens * 4, 16);
  const size_t records_size = size_t(b.plan_.scored_tokens()) * size_t(b.record_bytes_);
  if (records_at + records_size != size)
    throw file_error(path, fmt::format("base-logits file is {} bytes; its header implies {} (truncated or corrupt)",
                                       size, records_at + records_size));
  try {
    b.meta_ = nlohmann::json::parse(p + kFixedHeaderBytes, p + kFixedHeaderBytes + meta_bytes);
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("base-logits metadata is not valid JSON: ") + e.what());
  }
  b.tokens_ = reinterpret_cast<const int32_t*>(p + tokens_at);
  for (size_t i = 0; i < n_tokens; ++i)
    if (b.tokens_[i] < 0 || b.tokens_[i] >= b.vocab_)
      throw file_error(path, fmt::format("base-logits token {} has id {} outside the vocabulary", i, b.tokens_[i]));
  b.records_ = p + records_at;
  return b;
}

void write_base_logits(const std::string& path, const Transformer& base, const std::vector<int32_t>& tokens,
                       const WindowPlan& plan, const nlohmann::json& meta,
                       const std::function<void(int64_t, int64_t)>& on_window) {
  const int64_t vocab = base.config().vocab;
  if (int64_t(tokens.size()) < plan.tokens_needed())
    fail("{} windows of {} need {} tokens; the text has {}", plan.windows, plan.ctx, plan.tokens_needed(),
         tokens.size());
  const int64_t record_bytes = log_prob_record_bytes(vocab);
  const std::string meta_text = meta.dump();

  uint8_t head[kFixedHeaderBytes];
  std::memcpy(head, kBaseLogitsMagic, 8);
  const uint32_t fields[5] = {uint32_t(vocab), uint32_t(plan.ctx), uint32_t(plan.score_from), uint32_t(plan.windows),
                              uint32_t(record_bytes)};
  std::memcpy(head + 8, &kBaseLogitsVersion, 4);
  std::memcpy(head + 12, fields, sizeof(fields));
  const uint64_t meta_bytes = meta_text.size();
  std::memcpy(head + 32, &meta_bytes, 8);

  AtomicOutputFile out(path);
  out.write(head, sizeof(head));
  out.write(meta_text.data(), meta_text.size());
  out.pad_to(16);
  out.write(tokens.data(), size_t(plan.tokens_needed()) * 4);
  out.pad_to(16);

  const int64_t n_scored = plan.scored_per_window();
  std::vector<uint8_t> records(size_t(n_scored * record_bytes));
  KvCache cache = base.make_cache(plan.ctx);
  std::vector<float> logits;
  for (int64_t w = 0; w < plan.windows; ++w) {
    const int32_t* win = tokens.data() + w * plan.ctx;
    cache.clear();
    base.forward(win, plan.ctx, cache, logits, plan.score_from);
    std::atomic<bool> bad{false};
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_scored; ++i) {
      try {
        encode_log_probs(logits.data() + i * vocab, vocab, win[plan.score_from + i + 1],
                         records.data() + i * record_bytes);
      } catch (const Error&) {
        bad = true;  // exceptions must not leave an OpenMP region
      }
    }
    if (bad) fail("the base model produced NaN logits in window {}", w);
    out.write(records.data(), records.size());
    if (on_window) on_window(w + 1, plan.windows);
  }
  out.commit();
}

BaseLogits compute_base_logits(const Transformer& base, const std::vector<int32_t>& tokens, const WindowPlan& plan,
                               const nlohmann::json& meta, const std::function<void(int64_t, int64_t)>& on_window) {
  static std::atomic<int> counter{0};
  const std::string path =
      (fs::temp_directory_path() / fmt::format("llmq-base-logits-{}-{}.bin", ::getpid(), counter++)).string();
  write_base_logits(path, base, tokens, plan, meta, on_window);
  BaseLogits b = BaseLogits::open(path);
  std::error_code ec;
  fs::remove(path, ec);  // the mapping stays valid; the disk space goes when it is unmapped
  return b;
}

}  // namespace llmq
