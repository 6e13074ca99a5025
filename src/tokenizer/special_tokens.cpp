#include "tokenizer/special_tokens.h"

#include "util/json_file.h"
#include "util/error.h"

namespace llmq {
namespace {

using nlohmann::json;

std::string join_path(const std::string& dir, const char* name) { return dir + "/" + name; }

// tokenizer_config.json spells a special token as a string or as an
// AddedToken object {"content": ...}.
std::optional<std::string> token_content(const json& config, const char* key) {
  if (!config.is_object()) return std::nullopt;
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return json_value<std::string>(*it, "content");
  return std::nullopt;
}

// config.json ids are ints, lists of ints (several EOS ids), or null.
std::optional<int32_t> config_id(const json& config, const std::string& key) {
  if (!config.is_object()) return std::nullopt;
  const json* where = &config;
  if (!config.contains(key) && config.contains("text_config")) where = &config.at("text_config");
  auto it = where->find(key);
  if (it == where->end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int32_t>();
  if (it->is_array() && !it->empty() && it->front().is_number_integer()) return it->front().get<int32_t>();
  return std::nullopt;
}

struct Template {
  std::vector<int32_t> prefix, suffix;
};

// Ids of a TemplateProcessing special-token name: from the processor's own
// special_tokens table, else the vocab.
std::vector<int32_t> template_token_ids(const json& processor, const std::string& name, const TokenLookup& lookup) {
  if (auto table = processor.find("special_tokens"); table != processor.end() && table->contains(name)) {
    return table->at(name).at("ids").get<std::vector<int32_t>>();
  }
  if (auto id = lookup(name)) return {*id};
  fail("post_processor special token '{}' is not in the vocab", name);
}

std::optional<Template> parse_post_processor(const json& p, const TokenLookup& lookup) {
  if (!p.is_object()) return std::nullopt;
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const auto& inner : p.at("processors")) {
      if (auto t = parse_post_processor(inner, lookup)) return t;
    }
    return std::nullopt;
  }
  if (type == "TemplateProcessing") {
    Template t;
    bool seen_sequence = false;
    for (const auto& item : p.at("single")) {
      if (item.contains("Sequence")) {
        seen_sequence = true;
      } else if (item.contains("SpecialToken")) {
        auto ids = template_token_ids(p, item.at("SpecialToken").at("id").get<std::string>(), lookup);
        auto& dst = seen_sequence ? t.suffix : t.prefix;
        dst.insert(dst.end(), ids.begin(), ids.end());
      }
    }
    return t;
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    // "cls": ["[CLS]", 101], "sep": ["[SEP]", 102]
    return Template{{p.at("cls").at(1).get<int32_t>()}, {p.at("sep").at(1).get<int32_t>()}};
  }
  return std::nullopt;  // ByteLevel and others only touch offsets
}

}  // namespace

SpecialTokens read_special_tokens(const std::string& model_dir, const json& post_processor,
                                  const std::string& post_processor_file, const TokenLookup& lookup,
                                  const SpecialTokenDefaults& defaults) {
  const std::string tokenizer_config_path = join_path(model_dir, "tokenizer_config.json");
  const json tokenizer_config = read_json_file_if_present(tokenizer_config_path).value_or(json());
  const json config = read_json_file_if_present(join_path(model_dir, "config.json")).value_or(json());
  const json generation_config =
      read_json_file_if_present(join_path(model_dir, "generation_config.json")).value_or(json());

  SpecialTokens s;
  const auto resolve = [&](const char* name, std::optional<int32_t>& id, std::optional<int32_t> fallback) {
    if (auto content = token_content(tokenizer_config, (std::string(name) + "_token").c_str())) id = lookup(*content);
    const std::string key = std::string(name) + "_token_id";
    if (!id) id = config_id(config, key);
    if (!id) id = config_id(generation_config, key);
    if (!id) id = fallback;
  };
  resolve("bos", s.bos_id, defaults.bos_id);
  resolve("eos", s.eos_id, defaults.eos_id);
  resolve("unk", s.unk_id, defaults.unk_id);
  resolve("pad", s.pad_id, defaults.pad_id);

  std::optional<Template> tmpl;
  try {
    tmpl = parse_post_processor(post_processor, lookup);
  } catch (const nlohmann::json::exception& e) {
    throw file_error(post_processor_file, std::string("malformed post_processor: ") + e.what());
  } catch (const Error& e) {
    throw file_error(post_processor_file, e.what());
  }
  if (tmpl) {
    s.prefix_ids = tmpl->prefix;
    s.suffix_ids = tmpl->suffix;
    // Without names in the configs, the template's lone tokens are BOS/EOS (as in llama.cpp's converter).
    if (!s.bos_id && tmpl->prefix.size() == 1) s.bos_id = tmpl->prefix[0];
    if (!s.eos_id && tmpl->suffix.size() == 1) s.eos_id = tmpl->suffix[0];
  } else if (defaults.add_bos && s.bos_id) {
    s.prefix_ids = {*s.bos_id};
  }

  if (auto add_bos = json_value<bool>(tokenizer_config, "add_bos_token")) {
    s.prefix_ids.clear();
    if (*add_bos) {
      if (!s.bos_id) throw file_error(tokenizer_config_path, "add_bos_token is true but no BOS token is defined");
      s.prefix_ids.push_back(*s.bos_id);
    }
  }
  if (auto add_eos = json_value<bool>(tokenizer_config, "add_eos_token")) {
    s.suffix_ids.clear();
    if (*add_eos) {
      if (!s.eos_id) throw file_error(tokenizer_config_path, "add_eos_token is true but no EOS token is defined");
      s.suffix_ids.push_back(*s.eos_id);
    }
  }
  return s;
}

std::optional<int32_t> read_config_vocab_size(const std::string& model_dir) {
  const json config = read_json_file_if_present(join_path(model_dir, "config.json")).value_or(json());
  return config_id(config, "vocab_size");
}

}  // namespace llmq
