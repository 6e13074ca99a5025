// llm-quantize profile list | show NAME | create ... -o FILE | validate FILE MODEL
// Dynamic quantization profiles (.dqprofile): see docs/dynamic_quantization.md.
#include <filesystem>

#include <fmt/format.h>

#include "calibration/model_fingerprint.h"
#include "../cli_common.h"
#include "dynamic_options.h"
#include "mixed/dynamic_quantize.h"
#include "mixed/profile.h"
#include "util/output_guard.h"
#include "util/error.h"
#include "util/progress.h"

namespace fs = std::filesystem;

namespace llmq::cli {

namespace {

std::string target_string(const DynamicProfile& p) {
  if (p.target_bytes) return fmt::format("{} bytes", *p.target_bytes);
  if (p.target_bpw) return fmt::format("{:.2f} bpw", *p.target_bpw);
  return fmt::format("{} resolved tensor types", p.tensor_types.size());
}

void register_list(CLI::App* group) {
  auto* cmd = group->add_subcommand("list", "Built-in profiles");
  auto opts = std::make_shared<CommonOptions>();
  add_common_options(cmd, *opts);
  cmd->callback([opts] {
    apply_common_options(*opts);
    if (opts->json()) {
      nlohmann::json j = nlohmann::json::array();
      for (const DynamicProfile& p : builtin_profiles()) j.push_back(profile_to_json(p));
      print_json(j);
      return;
    }
    for (const DynamicProfile& p : builtin_profiles())
      fmt::print("{:<16} {:<10} {}{}\n", p.name, target_string(p), p.description,
                 p.name == kDefaultProfile ? " [default]" : "");
  });
}

void register_show(CLI::App* group) {
  auto* cmd = group->add_subcommand("show", "Print a profile (built-in name or .dqprofile file) as JSON");
  auto opts = std::make_shared<CommonOptions>();
  auto name = std::make_shared<std::string>();
  cmd->add_option("profile", *name, "Built-in name or .dqprofile file")->required();
  add_common_options(cmd, *opts);
  cmd->callback([opts, name] {
    apply_common_options(*opts);
    const nlohmann::json j = profile_to_json(load_profile(*name));
    if (opts->json()) print_json(j);
    else fmt::print("{}\n", j.dump(2));
  });
}

struct CreateArgs {
  std::string imatrix, name, output, model, from, description;
  DynamicArgs dyn;
};

void register_create(CLI::App* group) {
  auto* cmd = group->add_subcommand(
      "create", "Write a .dqprofile: a budget and settings bound to an importance matrix; with --model, also the "
                "resolved type of every tensor");
  auto a = std::make_shared<CreateArgs>();
  auto opts = std::make_shared<CommonOptions>();
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix the profile is made with")->required();
  cmd->add_option("--name", a->name, "Profile name")->required();
  cmd->add_option("-o,--output", a->output, "Profile file to write (.dqprofile)")->required();
  cmd->add_option("--from", a->from, "Start from this profile's settings (default: balanced)");
  cmd->add_option("--description", a->description, "Free text stored in the profile");
  cmd->add_option("--model", a->model, "Resolve the allocation for this model now and store every tensor's type")
      ->transform(model_argument());
  add_dynamic_options(cmd, a->dyn, false);
  add_common_options(cmd, *opts);
  cmd->callback([a, opts] {
    apply_common_options(*opts);
    if (!a->dyn.o_bpw->count() && !a->dyn.o_size->count())
      throw CLI::RequiredError("--target-bpw or --target-size");
    protect_run_inputs({a->imatrix, a->model, a->from, a->dyn.super_weights});
    check_output_path(a->output);  // before the sensitivity run, not after it
    // Fails now, naming the file, if it is not an importance matrix (or, with --model, not this model's).
    if (a->model.empty()) ImatrixFile check(a->imatrix);
    else open_imatrix_for_model(a->imatrix, a->model);
    DynamicProfile p = resolve_profile(a->dyn, a->from);
    p.name = a->name;
    p.description = a->description.empty() ? fmt::format("{} from {}", target_string(p), p.name) : a->description;
    p.imatrix = fs::absolute(a->imatrix).lexically_normal().string();
    p.tensor_types.clear();
    nlohmann::json extra;
    if (!a->model.empty()) {
      const TensorCatalog catalog(a->model);
      DynamicQuantOptions o;
      apply_run_options(a->dyn, o);
      o.profile = p;
      o.imatrix_path = a->imatrix;
      std::unique_ptr<Progress> bar;
      o.progress = [&](size_t done, size_t total, const std::string& n) {
        if (!bar) bar = std::make_unique<Progress>("sensitivity", total, true, "tensors");
        bar->update(1, n);
        if (done == total) {  // hybrid mode runs two passes, each with its own bar
      bar->finish();
      bar.reset();
    }
      };
      const DynamicPlan plan = plan_dynamic(catalog, o);
      p.tensor_types = plan.tensor_types();
      extra = {{"model", a->model}, {"bits_per_weight", plan.allocation.bpw()},
               {"file_bytes", plan.allocation.file_bytes}, {"exact", plan.allocation.exact}};
    }
    write_profile(p, a->output);
    if (opts->json()) {
      nlohmann::json j = {{"output", a->output}, {"profile", profile_to_json(p)}};
      if (!extra.is_null()) j["resolved_for"] = extra;
      print_json(j);
      return;
    }
    fmt::print("wrote {}: profile {} ({}), imatrix {}\n", a->output, p.name, target_string(p), p.imatrix);
    if (!extra.is_null())
      fmt::print("resolved for {}: {} tensor types, {:.3f} bits/weight, file {} bytes\n", a->model,
                 p.tensor_types.size(), extra["bits_per_weight"].get<double>(), extra["file_bytes"].get<uint64_t>());
  });
}

void register_validate(CLI::App* group) {
  auto* cmd = group->add_subcommand("validate", "Check a profile against a model's tensors: rules, resolved types, budget, imatrix");
  auto opts = std::make_shared<CommonOptions>();
  auto file = std::make_shared<std::string>();
  auto model = std::make_shared<std::string>();
  cmd->add_option("profile", *file, "Built-in name or .dqprofile file")->required();
  cmd->add_option("model", *model, "Hugging Face model directory or id")->required()->transform(model_argument());
  add_common_options(cmd, *opts);
  cmd->callback([opts, file, model] {
    apply_common_options(*opts);
    const DynamicProfile p = load_profile(*file);
    const TensorCatalog catalog(*model);
    const ProfileCheck c = validate_profile(p, catalog);
    if (opts->json()) {
      if (!c.ok()) {
        std::string all;
        for (const std::string& s : c.problems) all += (all.empty() ? "" : "; ") + s;
        throw file_error(*file, fmt::format("{} problem(s) against {}: {}", c.problems.size(), *model, all));
      }
      print_json({{"profile", *file}, {"model", *model}, {"ok", true}, {"notes", c.notes}});
      return;
    }
    for (const std::string& s : c.notes) fmt::print("ok: {}\n", s);
    for (const std::string& s : c.problems) fmt::print("problem: {}\n", s);
    if (!c.ok())
      throw file_error(*file, fmt::format("{} problem(s) against {} (listed above)", c.problems.size(), *model));
    fmt::print("{}: valid for {}\n", *file, *model);
  });
}

}  // namespace

void register_profile(CLI::App& app) {
  auto* group = app.add_subcommand("profile", "Dynamic quantization profiles (.dqprofile): list, show, create, validate");
  group->require_subcommand(1);
  register_list(group);
  register_show(group);
  register_create(group);
  register_validate(group);
}

}  // namespace llmq::cli
