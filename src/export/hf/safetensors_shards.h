#pragma once
// Writes a checkpoint's tensors as safetensors shards the way transformers
// saves them: one model.safetensors when everything fits under the shard
// size, else model-00001-of-0000N.safetensors ... plus
// model.safetensors.index.json (metadata.total_size and a weight_map from
// tensor name to file). The tensors of one module (qweight, qzeros, scales,
// g_idx) stay in one shard; a module larger than the limit gets a shard of
// its own.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "export/hf/hf_tensor_encoders.h"
#include "util/atomic_output.h"

namespace llmq {

// transformers' save_pretrained default.
constexpr uint64_t kDefaultMaxShardBytes = 5'000'000'000ull;

struct ShardedWrite {
  std::vector<std::string> files;  // shard file names, in order
  uint64_t bytes = 0;              // sum of the shard file sizes
};

// Which shard each tensor goes to (index into the returned count), in order.
std::vector<int> plan_shards(const std::vector<OutTensor>& tensors, uint64_t max_shard_bytes, int* n_shards);

// The summed size of the shard files write_safetensors_shards would write
// (headers included); the tensors' byte functions are not called.
uint64_t sharded_safetensors_bytes(const std::vector<OutTensor>& tensors, const std::map<std::string, std::string>& metadata,
                                   uint64_t max_shard_bytes);

// Writes into the (uncommitted) output directory; `metadata` goes into every shard's header.
ShardedWrite write_safetensors_shards(const AtomicOutputDir& dir, const std::vector<OutTensor>& tensors,
                                      const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes);

}  // namespace llmq
