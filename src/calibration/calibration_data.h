#pragma once
// Calibration text and the token windows a calibration pass runs over.
//
// A calibration file is plain text, a JSON array of strings, or JSON Lines
// whose objects carry a "text" field (the layouts of common calibration
// sets). Documents are joined with a blank line and tokenized as one stream;
// `samples` windows of `ctx` tokens are then drawn without overlap from the
// stream's whole windows, chosen by a seeded generator whose sequence is the
// same on every platform, so a run is reproducible from (file, ctx, samples,
// seed) alone.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmq {

class Tokenizer;

class Tokenizer;

struct CalibrationText {
  std::string path;
  std::string format;      // "text", "json" or "jsonl"
  int64_t documents = 0;   // 1 for plain text
  std::string text;        // documents joined by "\n\n"
};

// Reads and detects the format of a calibration file. Throws llmq::Error
// naming the file (and the line, for JSONL) when it is unreadable, empty,
// or a JSON layout other than the two above.
CalibrationText read_calibration_text(const std::string& path);

// The calibration text to use when the user names none: <model_dir>/calibration.txt,
// then the project's shared/data/calibration.txt beside the source checkout.
// std::nullopt when neither exists.
std::optional<std::string> default_calibration_path(const std::string& model_path);

struct WindowOptions {
  int64_t samples = 128;
  int64_t ctx = 512;
  uint64_t seed = 0;
  // Take the first `samples` windows instead of a seeded sample, as
  // llama-imatrix does (for comparing the two on the same tokens).
  bool sequential = false;
};

struct CalibrationWindows {
  std::vector<std::vector<int32_t>> windows;  // each exactly ctx tokens, in stream order
  std::vector<int64_t> starts;                // token offset of each window in the stream
  int64_t tokens_in_text = 0;
  int64_t windows_available = 0;              // whole windows the stream holds
  bool fewer_than_requested() const { return int64_t(windows.size()) < requested; }
  int64_t requested = 0;
  int64_t tokens() const;                     // sum of window lengths
  // FNV-1a over every token of every window: identifies the exact data a
  // checkpoint was computed on.
  uint64_t fingerprint() const;
};

// Picks min(samples, available) windows. When `bos` is given, the first
// token of every window is replaced by it (as llama.cpp's imatrix tool does
// for models that expect a BOS). A stream shorter than ctx yields one
// shorter window rather than none.
CalibrationWindows select_windows(const std::vector<int32_t>& tokens, const WindowOptions& opt,
                                  std::optional<int32_t> bos = std::nullopt);

// `path`, or when it is empty the default calibration text of the model;
// fails with "<what> needs calibration text: pass --calibration FILE" when
// there is none.
std::string calibration_path_or_default(const std::string& path, const std::string& model_path,
                                        const std::string& what);

// The windows of the calibration text in `path` under the model's tokenizer.
// Throws llmq::Error naming the file when the text yields no tokens; adds a
// line to `warnings` when it holds fewer windows than asked for.
CalibrationWindows read_calibration_windows(const std::string& path, const Tokenizer& tokenizer,
                                            const WindowOptions& opt, std::vector<std::string>& warnings);

}  // namespace llmq
