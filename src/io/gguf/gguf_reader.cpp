#include "io/gguf/gguf_reader.h"

#include <algorithm>
#include <cctype>
#include <new>
#include <numeric>

#include <fmt/format.h>

#include "io/gguf/gguf_decode.h"
#include "io/gguf/gguf_format.h"
#include "util/error.h"

namespace llmq {

namespace {

// The smallest possible encodings, used to reject absurd counts up front.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;        // key length, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, one dim, type, offset

std::string printable(const uint8_t* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += std::isprint(p[i]) ? char(p[i]) : '?';
  return s;
}

}  // namespace

GgufReader::GgufReader(const std::string& path) : file_(path) {
  try {
    parse();
  } catch (const std::bad_alloc&) {
    // only reachable through counts that are plausible for the file size but corrupt
    throw file_error(path, "out of memory while reading the GGUF header; the file is likely corrupt");
  }
}

void GgufReader::parse() {
  gguf::ByteCursor in(file_.data(), file_.size(), file_.path());

  // --- header ---
  if (file_.size() < sizeof(gguf::kMagic))
    in.fail(fmt::format("not a GGUF file: only {} bytes long", file_.size()));
  const uint8_t* magic = in.take(sizeof(gguf::kMagic), "magic");
  if (!std::equal(magic, magic + 4, gguf::kMagic))
    in.fail(fmt::format("not a GGUF file: starts with '{}' instead of 'GGUF'", printable(magic, 4)));

  version_ = in.read<uint32_t>("version");
  if (version_ != 0 && (version_ & 0xFFFFu) == 0)
    in.fail(fmt::format("GGUF version {:#x} looks byte-swapped; big-endian GGUF files are not supported", version_));
  if (version_ < gguf::kOldestReadableVersion || version_ > gguf::kVersion)
    in.fail(fmt::format("unsupported GGUF version {} (supported: {} to {})", version_, gguf::kOldestReadableVersion,
                        gguf::kVersion));

  const uint64_t n_tensors = in.read<uint64_t>("tensor count");
  const uint64_t n_kv = in.read<uint64_t>("metadata count");
  if (n_kv > in.remaining() / kMinKeyValueBytes)
    in.fail(fmt::format("header claims {} metadata entries, more than the {}-byte file can hold (truncated or corrupt)", n_kv, file_.size()));
  if (n_tensors > in.remaining() / kMinTensorInfoBytes)
    in.fail(fmt::format("header claims {} tensors, more than the {}-byte file can hold (truncated or corrupt)", n_tensors, file_.size()));

  // --- metadata ---
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = in.read_string("metadata key");
    if (key.empty()) in.fail(fmt::format("metadata entry {} has an empty key", i));
    if (metadata_.contains(key)) in.fail(fmt::format("duplicate metadata key '{}'", key));
    const auto type_id = in.read<uint32_t>("metadata value type");
    GgufValue value = gguf::read_value(in, type_id, key);
    metadata_.set(std::move(key), std::move(value));
  }

  alignment_ = gguf::kDefaultAlignment;
  if (const GgufValue* a = metadata_.find(gguf::kAlignmentKey)) {
    const uint32_t* v = a->get_if<uint32_t>();
    if (!v) in.fail(fmt::format("{} must be a uint32, found {}", gguf::kAlignmentKey, a->description()));
    if (!gguf::is_power_of_two(*v)) in.fail(fmt::format("{} is {}, not a power of two", gguf::kAlignmentKey, *v));
    alignment_ = *v;
  }

  // --- tensor table ---
  tensors_.reserve(size_t(std::min<uint64_t>(n_tensors, 1u << 16)));  // a corrupt count fails on the data, not here
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = in.read_string("tensor name");
    if (tensor_index_.count(t.name)) in.fail(fmt::format("duplicate tensor name '{}'", t.name));
    const auto n_dims = in.read<uint32_t>("tensor dimension count");
    if (n_dims < 1 || n_dims > uint32_t(gguf::kMaxDims))
      in.fail(fmt::format("tensor '{}' has {} dimensions, expected 1 to {}", t.name, n_dims, gguf::kMaxDims));
    for (uint32_t d = 0; d < n_dims; ++d) t.shape.push_back(in.read<int64_t>("tensor dimension"));
    const auto type_id = in.read<uint32_t>("tensor type");
    if (!ggml::type_traits(type_id))
      in.fail(fmt::format("tensor '{}' has unknown ggml type {}", t.name, type_id));
    t.type = ggml::GgmlType(type_id);
    if (std::string problem = gguf::shape_problem(t.shape, t.type); !problem.empty())
      in.fail(fmt::format("tensor '{}' ({}): {}", t.name, ggml::type_name(t.type), problem));
    t.nbytes = gguf::tensor_nbytes(t.shape, t.type);
    t.offset = in.read<uint64_t>("tensor data offset");
    if (t.offset % alignment_ != 0)
      in.fail(fmt::format("tensor '{}' data offset {} is not a multiple of the alignment {}", t.name, t.offset,
                          alignment_));
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // --- data section: starts at the next multiple of the alignment ---
  data_offset_ = size_t(gguf::align_up(in.pos(), alignment_));
  const size_t data_size = data_offset_ <= file_.size() ? file_.size() - data_offset_ : 0;
  for (GgufTensorInfo& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      in.fail(fmt::format("tensor '{}' data (bytes {} to {} of the data section at byte {}) runs past the end of "
                          "the file ({} bytes); the file is truncated or the offset is wrong",
                          t.name, t.offset, t.offset + t.nbytes, data_offset_, file_.size()));
    t.data = file_.data() + data_offset_ + t.offset;
  }

  // Tensors may be stored in any order, but no two may share bytes.
  std::vector<size_t> by_offset(tensors_.size());
  std::iota(by_offset.begin(), by_offset.end(), size_t(0));
  std::sort(by_offset.begin(), by_offset.end(), [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = tensors_[by_offset[i - 1]];
    const GgufTensorInfo& cur = tensors_[by_offset[i]];
    if (prev.offset + prev.nbytes > cur.offset)
      in.fail(fmt::format("tensors '{}' (bytes {} to {}) and '{}' (from byte {}) overlap", prev.name, prev.offset,
                          prev.offset + prev.nbytes, cur.name, cur.offset));
  }

  // Writers pad the last tensor to the alignment at most. More data after it means the header
  // describes fewer tensors than the file holds (a tensor count one short shifts every tensor).
  size_t end = 0;
  for (const GgufTensorInfo& t : tensors_) end = std::max(end, size_t(t.offset + t.nbytes));
  if (!tensors_.empty() && data_size > end && data_size - end > alignment_)
    in.fail(fmt::format("{} bytes follow the last tensor's data: the header's tensor count ({}) or offsets are wrong",
                        data_size - end, tensors_.size()));
}

const GgufValue& GgufReader::at(std::string_view key) const {
  if (const GgufValue* v = metadata_.find(key)) return *v;
  throw file_error(path(), fmt::format("missing metadata key '{}'", key));
}

int64_t GgufReader::get_int(std::string_view key) const {
  const GgufValue& v = at(key);
  try {
    return v.to_int64();
  } catch (const Error& e) {
    throw file_error(path(), fmt::format("metadata key '{}': {}", key, e.what()));
  }
}

std::optional<int64_t> GgufReader::get_int_optional(std::string_view key) const {
  if (!contains(key)) return std::nullopt;
  return get_int(key);
}

void GgufReader::throw_type_mismatch(std::string_view key, const std::string& expected, const GgufValue& v) const {
  throw file_error(path(), fmt::format("metadata key '{}': expected {}, found {}", key, expected, v.description()));
}

const GgufTensorInfo* GgufReader::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufReader::tensor(std::string_view name) const {
  if (const GgufTensorInfo* t = find_tensor(name)) return *t;
  throw file_error(path(), fmt::format("no tensor named '{}'", name));
}

}  // namespace llmq
