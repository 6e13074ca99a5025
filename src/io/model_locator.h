#pragma once
// MODEL arguments given as Hugging Face ids ("Qwen/Qwen3-4B"), found in the
// local Hugging Face cache without any network access.
//
// Cache layout (huggingface_hub): <cache>/models--Qwen--Qwen3-4B/refs/main holds
// a commit hash; <cache>/models--Qwen--Qwen3-4B/snapshots/<hash>/ is the model
// directory, its files usually symlinks into ../../blobs/.
#include <optional>
#include <string>

namespace llmq {

// The hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
std::string hf_hub_cache_dir();

// Whether `arg` has the form of a model id: owner/name, exactly one slash,
// no leading '/' or '.', both parts made of [A-Za-z0-9._-].
bool looks_like_model_id(const std::string& arg);

// <cache>/models--owner--name for an id (whether or not it exists).
std::string hf_cache_repo_dir(const std::string& id);

// The snapshot directory of `id` in the cache: the commit refs/main names, or
// the only snapshot when there is no refs/main. nullopt when the cache has no
// folder for the id. Throws llmq::Error when the folder is there but names no
// usable snapshot (refs/main pointing at a missing one, several snapshots and
// no refs/main, none at all).
std::optional<std::string> find_cached_model(const std::string& id);

// A MODEL argument as a path: an existing path is returned as given; else an
// argument that looks like a model id becomes its snapshot directory; else
// the argument is returned unchanged (the loader then names the missing path).
// An id not in the cache throws llmq::Error ("MODEL '<id>' is neither a path
// nor a model in the Hugging Face cache (looked in ...); no network access is used").
std::string resolve_model_path(const std::string& arg);

// For a snapshot directory of the cache (.../models--owner--name/snapshots/<commit>):
// the model id "owner/name"; nullopt for any other path.
std::optional<std::string> hf_cache_model_id(const std::string& path);

// A short name for a model in tables and file names: "name" of a cache
// snapshot's id, else the path's last component.
std::string model_short_name(const std::string& path);

// The path that outputs named after the model are derived from ("<base>-Q4_K_M.gguf",
// "<base>.imatrix"): the model path itself, except for a cache snapshot, whose
// outputs go to the current directory under the model's name (never into the cache).
std::string model_output_base(const std::string& path);

}  // namespace llmq
