#pragma once
// Compact storage of one next-token distribution of the base model, so that a
// quantized model can later be compared against it without re-running the
// base. Every token's log-probability is kept (a top-k cut loses too much on
// high-entropy text: on tiny-llama, top-256 misses 8% of the KL divergence),
// at 16 bits each, linearly between the lowest and highest log-prob of the
// position; the rows that must be exact are stored apart in fp32 / int32.
//
// Record layout (little-endian, 16-byte aligned size):
//   f32 lp_min     log-prob of the least likely token (floored at lp_max - 64)
//   f32 lp_step    nats per code unit: log p(i) ~= lp_min + lp_step * code[i]
//   f32 target_lp  exact log-prob of the token that actually follows
//   i32 top1       exact argmax token id (first on ties)
//   u16 code[vocab], zero-padded to a multiple of 8 entries
// With the usual 20-40 nat range the code step is below 7e-4 nats, so each
// log-prob is off by at most 3.5e-4 and the KL divergence computed from a
// record is off by about 1e-8 nats.
#include <cstdint>
#include <cstring>

namespace llmq {

constexpr int64_t kLogProbRecordHeaderBytes = 16;
// Log-probs more than this far below the most likely token are stored as the
// floor: their probability (< 1.6e-28) cannot matter, and a bounded range
// keeps the code step fine.
constexpr double kLogProbRange = 64.0;

int64_t log_prob_record_bytes(int64_t vocab);

// Encodes the distribution softmax(logits[0..vocab)) and the log-prob of
// `target` into `record` (log_prob_record_bytes(vocab) bytes). Throws
// llmq::Error if a logit is NaN.
void encode_log_probs(const float* logits, int64_t vocab, int32_t target, uint8_t* record);

// Read-only view of one encoded record.
class LogProbRecord {
 public:
  explicit LogProbRecord(const uint8_t* bytes) : p_(bytes) {}
  float lp_min() const { return load<float>(0); }
  float lp_step() const { return load<float>(4); }
  float target_log_prob() const { return load<float>(8); }
  int32_t top1() const { return load<int32_t>(12); }
  const uint16_t* codes() const { return reinterpret_cast<const uint16_t*>(p_ + kLogProbRecordHeaderBytes); }
  float log_prob(int64_t id) const { return lp_min() + lp_step() * float(codes()[id]); }
  const uint8_t* bytes() const { return p_; }

 private:
  template <typename T>
  T load(int off) const {
    T v;
    std::memcpy(&v, p_ + off, sizeof(T));
    return v;
  }
  const uint8_t* p_;
};

}  // namespace llmq
