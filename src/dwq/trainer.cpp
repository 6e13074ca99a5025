#include "dwq/trainer.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dwq/backprop.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "util/error.h"
#include "util/progress.h"

namespace fs = std::filesystem;

namespace llmq::dwq {

namespace {

struct Moments {
  std::vector<float> ms, vs, mb, vb;
};

struct State {
  int64_t step = 0, best_step = 0;
  double initial_valid = 0, best_valid = 0;
  int evals_since_best = 0;
  std::vector<std::pair<int64_t, double>> curve;
  std::vector<Moments> moments;
  std::vector<std::vector<float>> best_s, best_b;
};

// Adam, with the step of each value measured in `unit` (its group's
// quantization step at the start): a learning rate of 1e-3 moves a scale by
// 0.1% of itself and a bias by 0.1% of a step per update, in a layer whose
// weights are large as in one whose weights are small.
void adam_update(std::vector<float>& p, const std::vector<float>& g, std::vector<float>& m, std::vector<float>& v,
                 const std::vector<float>& unit, double lr, int64_t t) {
  constexpr double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const double c1 = 1.0 - std::pow(b1, double(t)), c2 = 1.0 - std::pow(b2, double(t));
#pragma omp parallel for schedule(static) if (p.size() > 65536)
  for (size_t i = 0; i < p.size(); ++i) {
    m[i] = float(b1 * m[i] + (1 - b1) * g[i]);
    v[i] = float(b2 * v[i] + (1 - b2) * double(g[i]) * g[i]);
    p[i] -= float(lr * unit[i] * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps));
  }
}

bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

void save_state(const std::string& path, const std::string& run_key, const State& st, const std::vector<Trainable*>& ts) {
  fs::create_directories(fs::path(path).parent_path());
  SafetensorsWriter w(path);
  nlohmann::json meta = {{"run_key", run_key},           {"step", st.step},
                         {"best_step", st.best_step},     {"initial_valid", st.initial_valid},
                         {"best_valid", st.best_valid},   {"evals_since_best", st.evals_since_best},
                         {"curve", st.curve}};
  w.set_metadata("llmq.dwq_state", meta.dump());
  auto put = [&](const std::string& name, const std::vector<float>& v) {
    w.add(name, DType::F32, {int64_t(v.size())}, v.data(), v.size() * 4);
  };
  for (size_t i = 0; i < ts.size(); ++i) {
    const std::string p = fmt::format("{}.", ts[i]->a.weight_name);
    put(p + "scales", ts[i]->a.scales);
    put(p + "biases", ts[i]->a.biases);
    put(p + "m_scales", st.moments[i].ms);
    put(p + "v_scales", st.moments[i].vs);
    put(p + "m_biases", st.moments[i].mb);
    put(p + "v_biases", st.moments[i].vb);
    put(p + "best_scales", st.best_s[i]);
    put(p + "best_biases", st.best_b[i]);
  }
  w.finish();
}

// The saved state when the file is this run's and every tensor has the expected size.
std::optional<State> load_state(const std::string& path, const std::string& run_key, const std::vector<Trainable*>& ts) {
  if (!fs::exists(path)) return std::nullopt;
  try {
    SafetensorsFile f(path);
    auto it = f.metadata().find("llmq.dwq_state");
    if (it == f.metadata().end()) return std::nullopt;
    const nlohmann::json meta = nlohmann::json::parse(it->second);
    if (meta.value("run_key", "") != run_key) return std::nullopt;
    State st;
    st.step = meta.at("step").get<int64_t>();
    st.best_step = meta.at("best_step").get<int64_t>();
    st.initial_valid = meta.at("initial_valid").get<double>();
    st.best_valid = meta.at("best_valid").get<double>();
    st.evals_since_best = meta.at("evals_since_best").get<int>();
    st.curve = meta.at("curve").get<std::vector<std::pair<int64_t, double>>>();
    std::vector<std::vector<float>> values;
    auto get = [&](const std::string& name, size_t n) -> std::vector<float> {
      const TensorView* tv = f.find(name);
      if (!tv || tv->dtype != DType::F32 || tv->numel() != int64_t(n)) throw Error("state tensor " + name + " missing or resized");
      std::vector<float> v(n);
      std::memcpy(v.data(), tv->data, n * 4);
      return v;
    };
    std::vector<std::vector<float>> ps, pb;
    for (Trainable* t : ts) {
      const std::string p = t->a.weight_name + ".";
      const size_t n = t->a.scales.size();
      ps.push_back(get(p + "scales", n));
      pb.push_back(get(p + "biases", n));
      st.moments.push_back({get(p + "m_scales", n), get(p + "v_scales", n), get(p + "m_biases", n), get(p + "v_biases", n)});
      st.best_s.push_back(get(p + "best_scales", n));
      st.best_b.push_back(get(p + "best_biases", n));
    }
    for (size_t i = 0; i < ts.size(); ++i) {
      ts[i]->a.scales = std::move(ps[i]);
      ts[i]->a.biases = std::move(pb[i]);
    }
    return st;
  } catch (const std::exception&) {  // damaged or foreign: start over rather than trust it
    return std::nullopt;
  }
}

}  // namespace

double learning_rate_at(const TrainOptions& opt, int64_t step, int64_t steps) {
  if (!opt.cosine || steps <= 1) return opt.learning_rate;
  // Cosine from the full rate at step 1 down to a tenth at the last step.
  const double x = double(step - 1) / double(steps - 1);
  return opt.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + std::cos(3.14159265358979323846 * x)));
}

double mean_loss(Backprop& bp, const std::vector<std::vector<int32_t>>& seqs, const TeacherTargets& targets,
                 float temperature) {
  double sum = 0;
  int64_t tokens = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    sum += bp.loss(seqs[i].data(), int64_t(seqs[i].size()), targets.of(int64_t(i)), temperature);
    tokens += int64_t(seqs[i].size());
  }
  return tokens ? sum / double(tokens) : 0.0;
}

TrainReport train(Student& s, const TrainData& data, const TrainOptions& opt, const std::string& state_path,
                  const std::string& run_key) {
  if (data.train.empty()) fail("DWQ needs at least one training sequence");
  if (opt.batch_size < 1) fail("--batch-size must be at least 1");
  const std::vector<Trainable*> ts = s.trainables();
  const int64_t n = int64_t(data.train.size());
  const int64_t B = std::min(opt.batch_size, n);
  const int64_t per_epoch = std::max<int64_t>(1, n / B);
  TrainReport rep;
  rep.steps_planned = opt.iters > 0 ? opt.iters : per_epoch;
  std::vector<std::vector<float>> unit;  // |scale| of the starting point, before any saved state is loaded
  for (Trainable* t : ts) {
    unit.emplace_back(t->a.scales);
    for (float& u : unit.back()) u = std::max(std::fabs(u), 1e-12f);
  }

  Backprop bp(s);  // one fp32 copy of the lm_head for training and every validation
  State st;
  if (auto loaded = load_state(state_path, run_key, ts)) {
    st = std::move(*loaded);
    rep.resumed_at = st.step;
  } else {
    for (Trainable* t : ts) {
      const size_t m = t->a.scales.size();
      st.moments.push_back({std::vector<float>(m), std::vector<float>(m), std::vector<float>(m), std::vector<float>(m)});
      st.best_s.push_back(t->a.scales);
      st.best_b.push_back(t->a.biases);
    }
    st.initial_valid = st.best_valid = mean_loss(bp, data.valid, data.valid_targets, opt.temperature);
    st.curve.push_back({0, st.initial_valid});
    save_state(state_path, run_key, st, ts);  // step 0: what a diverged first step falls back to
  }

  Progress prog("dwq", size_t(rep.steps_planned), opt.progress, "steps");
  if (st.step) prog.update(size_t(std::min(st.step, rep.steps_planned)), "resumed");
  const auto t0 = std::chrono::steady_clock::now();
  int64_t tokens = 0;
  auto evaluate = [&] {
    const double v = mean_loss(bp, data.valid, data.valid_targets, opt.temperature);
    st.curve.push_back({st.step, v});
    if (v < st.best_valid) {
      st.best_valid = v;
      st.best_step = st.step;
      st.evals_since_best = 0;
      for (size_t i = 0; i < ts.size(); ++i) {
        st.best_s[i] = ts[i]->a.scales;
        st.best_b[i] = ts[i]->a.biases;
      }
    } else {
      ++st.evals_since_best;
    }
    save_state(state_path, run_key, st, ts);
  };
  std::vector<int64_t> order;
  int64_t order_epoch = -1;
  while (st.step < rep.steps_planned && st.evals_since_best < opt.patience) {
    const int64_t epoch = st.step / per_epoch, b = st.step % per_epoch;
    if (epoch != order_epoch) {  // the same order on a resumed run: it depends on the seed and the epoch only
      order.resize(size_t(n));
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), std::mt19937_64(opt.seed * 1000003 + uint64_t(epoch)));
      order_epoch = epoch;
    }
    s.zero_gradients();
    int64_t batch_tokens = 0;
    for (int64_t j = 0; j < B; ++j) batch_tokens += int64_t(data.train[size_t(order[size_t(b * B + j)])].size());
    double loss = 0;
    for (int64_t j = 0; j < B; ++j) {
      const int64_t i = order[size_t(b * B + j)];
      const auto& seq = data.train[size_t(i)];
      loss += bp.loss_and_gradients(seq.data(), int64_t(seq.size()), data.train_targets.of(i), opt.temperature,
                                    float(1.0 / double(batch_tokens)));
    }
    loss /= double(batch_tokens);
    bool finite = std::isfinite(loss);
    for (Trainable* t : ts) finite = finite && all_finite(t->gs) && all_finite(t->gb);
    if (!finite)
      fail("DWQ diverged at step {} (the loss or a gradient is not finite) with learning rate {:g}: use a lower "
           "--learning-rate; {} keeps step {}",
           st.step + 1, opt.learning_rate, state_path, st.curve.back().first);
    ++st.step;
    const double lr = learning_rate_at(opt, st.step, rep.steps_planned);
    for (size_t i = 0; i < ts.size(); ++i) {
      adam_update(ts[i]->a.scales, ts[i]->gs, st.moments[i].ms, st.moments[i].vs, unit[i], lr, st.step);
      adam_update(ts[i]->a.biases, ts[i]->gb, st.moments[i].mb, st.moments[i].vb, unit[i], lr, st.step);
    }
    tokens += batch_tokens;
    rep.train_loss.push_back(loss);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    prog.update(1, fmt::format("loss {:.5f} · {:.0f} tok/s", loss, secs > 0 ? double(tokens) / secs : 0.0));
    if (st.step % opt.steps_per_eval == 0 || st.step == rep.steps_planned) evaluate();
  }
  rep.stopped_early = st.step < rep.steps_planned;
  prog.finish(fmt::format("validation KL {:.5f} -> {:.5f} (step {})", st.initial_valid, st.best_valid, st.best_step));
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.tokens_per_second = rep.seconds > 0 ? double(tokens) / rep.seconds : 0.0;
  rep.steps_done = st.step;
  rep.best_step = st.best_step;
  rep.initial_valid = st.initial_valid;
  rep.best_valid = st.best_valid;
  rep.valid_curve = st.curve;
  for (size_t i = 0; i < ts.size(); ++i) {  // the best parameters seen
    ts[i]->a.scales = st.best_s[i];
    ts[i]->a.biases = st.best_b[i];
  }
  return rep;
}

}  // namespace llmq::dwq
