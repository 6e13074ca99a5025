#pragma once
// Importance-matrix files as llama.cpp writes and reads them, so that
// llama-quantize takes ours and our quantizers take llama-imatrix's:
//
// GGUF (current; llama-imatrix's default): general.type = "imatrix",
//   imatrix.datasets (array of string), imatrix.chunk_count and
//   imatrix.chunk_size (uint32); per weight <name>.in_sum2, F32 [cols, n_mat]
//   with the raw sums of x^2, and <name>.counts, F32 [1, n_mat] with the
//   tokens per matrix (n_mat > 1 for stacked MoE experts). Ours also carry
//   llmq.model_fingerprint (string), which llama.cpp ignores.
// Legacy .dat: int32 entry count; per entry int32 name length, name, int32
//   ncall, int32 value count, float values = (sum / count) * ncall; then
//   optionally int32 chunk count, int32 length and the dataset name.
//
// Entries are keyed by the GGUF weight name ("blk.0.attn_q.weight").
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace llmq {

struct ImatrixEntry {
  // Per-column values, matrix after matrix: raw sums of x^2 (GGUF format) or
  // (sum / count) * ncall (legacy format).
  std::vector<float> sums;
  // Tokens per matrix (GGUF format), or {ncall} (legacy format).
  std::vector<int64_t> counts;
};

struct ImatrixData {
  std::map<std::string, ImatrixEntry> entries;
  std::vector<std::string> datasets;
  int32_t chunk_count = 0;  // calibration windows
  int32_t chunk_size = 0;   // tokens per window
  bool legacy = false;      // entries hold legacy-format values
  // model_fingerprint() of the model the matrix was computed on; empty when
  // unknown (legacy files, llama-imatrix's files, quantized embeddings).
  std::string model_fingerprint;
};

// Detects the format from the file's magic. Throws llmq::Error naming the
// file on anything malformed.
ImatrixData read_imatrix(const std::string& path);
// Both writers take either kind of data and convert as llama.cpp does.
void write_imatrix_gguf(const ImatrixData& data, const std::string& path);
void write_imatrix_dat(const ImatrixData& data, const std::string& path);

// The importance matrix as quantizers use it: E[x_j^2] per column of each
// weight (llama-quantize's normalization: sums / count; ones for a matrix
// that saw no token; legacy values / ncall).
class ImatrixFile {
 public:
  // n_experts: how many matrices a legacy "*_exps.weight" entry stacks. The
  // legacy format does not store it; 0 infers it from the same layer's
  // attention input width.
  explicit ImatrixFile(const std::string& path, int64_t n_experts = 0);
  explicit ImatrixFile(ImatrixData data, int64_t n_experts = 0);

  // Mean of squares per column, or nullptr when the file has no entry for
  // the tensor. expert = -1: the whole entry (all matrices, one after
  // another, as llama-quantize passes them for a 3-D tensor); expert >= 0:
  // that expert's matrix of a stacked tensor (for a 2-D tensor, expert 0 is
  // the entry itself).
  const std::vector<float>* importance(const std::string& gguf_name, int expert = -1) const;
  // Matrices stacked in an entry (1 for 2-D weights); 0 if absent.
  int64_t n_matrices(const std::string& gguf_name) const;
  // Tokens behind an entry's matrix (legacy: ncall * chunk_size, or ncall if unknown).
  int64_t tokens(const std::string& gguf_name, int expert = 0) const;

  const ImatrixData& data() const { return data_; }
  bool is_legacy() const { return data_.legacy; }
  size_t size() const { return data_.entries.size(); }
  std::vector<std::string> names() const;

 private:
  void index(int64_t n_experts);
  ImatrixData data_;
  std::map<std::string, std::vector<float>> whole_;  // name -> all matrices
  std::map<std::pair<std::string, int>, std::vector<float>> per_matrix_;
  std::map<std::string, int64_t> n_mat_;
};

}  // namespace llmq
