#pragma once
// The one rule every output of the program goes through: never delete or
// replace anything the program did not create, and never write over an input.
//
// - An output path that is, contains, or lies inside an input of the run
//   (model, data, imatrix, profile, ...) is refused. Paths are compared after
//   resolving symlinks, `.` and `..`; hard links count as the same file.
// - An existing output directory is refused unless the run allows overwriting
//   (--overwrite) and the directory carries our marker file, i.e. an earlier
//   run of llm-quantize wrote it.
// - Special files (FIFOs, devices, sockets) are never outputs.
// AtomicOutputFile / AtomicOutputDir apply these checks when they open and again
// just before they rename into place.
#include <string>
#include <vector>

namespace llmq {

// Name of the marker file each output directory we write carries.
inline constexpr const char* kOutputMarker = ".llm-quantize-output";

// The run's inputs. Empty paths are ignored. Process-wide (the CLI registers
// its arguments before any work); library callers may add their own.
void protect_input(const std::string& path);
void protect_inputs(const std::vector<std::string>& paths);
void clear_protected_inputs();  // for tests
std::vector<std::string> protected_inputs();

// Whether an existing output directory written by us may be replaced (--overwrite).
void set_overwrite_outputs(bool allow);
bool overwrite_outputs();

// Throws llmq::Error naming `output` when it is, contains or lies inside one
// of the protected inputs or of `extra_inputs`, or is a special file.
void check_output_path(const std::string& output, const std::vector<std::string>& extra_inputs = {});

// Whether `dir` is an output directory of ours (carries kOutputMarker).
bool is_our_output_dir(const std::string& dir);

// Temporaries beside `path` that a dead process of ours left behind
// (".NAME.tmp-PID", ".NAME.old-PID"): removed. Live processes' are kept.
void remove_stale_temporaries(const std::string& path);

// "<dir>/.<name>.<tag>-<pid>": where a writer puts its temporary.
std::string sibling_temp_path(const std::string& path, const std::string& tag);

}  // namespace llmq
