#include "eval/task_scoring.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "eval/perplexity.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llmq {

namespace {

bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// The context's token ids and each continuation's (encode_pair for several continuations of one context).
struct EncodedChoices {
  std::vector<int32_t> context;
  std::vector<std::vector<int32_t>> continuations;
};

EncodedChoices encode_choices(const Tokenizer& tok, std::string_view context, const std::vector<std::string>& conts) {
  EncodedChoices e;
  size_t keep = context.size();
  while (keep > 0 && ascii_space(context[keep - 1])) --keep;
  const std::string_view ctx = context.substr(0, keep), moved = context.substr(keep);
  if (ctx.empty()) {
    const auto prefix = tok.bos_id() ? tok.bos_id() : tok.eos_id();
    if (!prefix) fail("the context is empty and the tokenizer has neither a BOS nor an EOS token to stand for it");
    e.context = {*prefix};
    for (const std::string& c : conts) e.continuations.push_back(tok.encode(std::string(moved) + c, false));
    return e;
  }
  e.context = tok.encode(ctx, false);
  for (const std::string& c : conts) {
    std::vector<int32_t> whole = tok.encode(std::string(ctx) + std::string(moved) + c, false);
    whole.erase(whole.begin(), whole.begin() + std::min(whole.size(), e.context.size()));
    e.continuations.push_back(std::move(whole));
  }
  return e;
}

double log_prob(const float* logits, int64_t vocab, int32_t token) { return -token_nll(logits, vocab, token); }

}  // namespace

EncodedPair encode_pair(const Tokenizer& tok, std::string_view context, std::string_view continuation) {
  EncodedChoices e = encode_choices(tok, context, {std::string(continuation)});
  return {std::move(e.context), std::move(e.continuations.front())};
}

std::vector<double> continuation_logliks(const Transformer& model, std::span<const int32_t> context,
                                         const std::vector<std::vector<int32_t>>& continuations) {
  if (context.empty()) fail("continuation log-likelihoods need a context of at least one token");
  const int64_t max_len = model.config().max_positions, vocab = model.config().vocab;
  // Choices whose context + continuation exceed the model's length drop leading context tokens;
  // those dropping the same number share one pass over the context.
  std::map<size_t, std::vector<size_t>> by_drop;
  size_t longest = 0;
  for (size_t i = 0; i < continuations.size(); ++i) {
    const size_t k = continuations[i].size();
    if (k == 0) fail("choice {} encodes to no tokens", i);
    if (int64_t(k) > max_len) fail("choice {} has {} tokens, more than the model's context length {}", i, k, max_len);
    const int64_t fed = int64_t(context.size() + k) - 1;  // the last token is predicted, never fed
    by_drop[size_t(std::max<int64_t>(0, fed - max_len))].push_back(i);
    longest = std::max(longest, k);
  }
  std::vector<double> out(continuations.size(), 0.0);
  KvCache cache = model.make_cache(int64_t(context.size() + longest));
  std::vector<float> last, logits;
  for (const auto& [drop, members] : by_drop) {
    const std::span<const int32_t> ctx = context.subspan(drop);
    const int64_t n_ctx = int64_t(ctx.size());
    cache.clear();
    model.forward(ctx.data(), n_ctx, cache, last, n_ctx - 1);
    for (size_t i : members) {
      const std::vector<int32_t>& cont = continuations[i];
      double ll = log_prob(last.data(), vocab, cont[0]);
      if (cont.size() > 1) {
        cache.n_past = n_ctx;  // the context's keys and values stay; the previous choice's are overwritten
        model.forward(cont.data(), int64_t(cont.size()) - 1, cache, logits, 0);
        for (size_t t = 1; t < cont.size(); ++t) ll += log_prob(logits.data() + int64_t(t - 1) * vocab, vocab, cont[t]);
      }
      if (!std::isfinite(ll))
        fail("choice {} gets a non-finite log-likelihood: the model computes NaN or Inf (check its weights and config)", i);
      out[i] = ll;
    }
  }
  return out;
}

ChoicePick pick_choice(const std::vector<double>& logliks, const std::vector<std::string>& choices) {
  ChoicePick p;
  double best_norm = 0;
  for (size_t i = 0; i < logliks.size(); ++i) {
    const double norm = logliks[i] / double(std::max<size_t>(1, choices[i].size()));  // UTF-8 bytes
    if (logliks[i] > logliks[size_t(p.pred)]) p.pred = int(i);
    if (i == 0 || norm > best_norm) {
      best_norm = norm;
      p.pred_norm = int(i);
    }
  }
  return p;
}

AccuracyStat accuracy_stat(int64_t n, int64_t correct, int64_t correct_norm) {
  AccuracyStat s;
  s.n = n;
  if (n == 0) return s;
  auto mean_se = [n](int64_t c, double& mean, double& se) {
    mean = double(c) / double(n);
    se = n > 1 ? std::sqrt(mean * (1.0 - mean) / double(n - 1)) : 0.0;
  };
  mean_se(correct, s.acc, s.acc_stderr);
  mean_se(correct_norm, s.acc_norm, s.acc_norm_stderr);
  return s;
}

nlohmann::json AccuracyStat::to_json() const {
  return {{"n", n}, {"acc", acc}, {"acc_stderr", acc_stderr}, {"acc_norm", acc_norm}, {"acc_norm_stderr", acc_norm_stderr}};
}

nlohmann::json TaskEvalResult::to_json() const {
  nlohmann::json t = nlohmann::json::object();
  for (const TaskAccuracy& a : tasks) t[a.task] = a.stat.to_json();
  return {{"tasks", t}, {"overall", overall.to_json()}, {"tokens", tokens}, {"seconds", seconds}};
}

std::vector<size_t> evaluated_records(const std::vector<TaskRecord>& records, int64_t limit) {
  std::map<std::string, int64_t> taken;
  std::vector<size_t> out;
  for (size_t i = 0; i < records.size(); ++i)
    if (limit <= 0 || taken[records[i].task]++ < limit) out.push_back(i);
  return out;
}

TaskEvalResult evaluate_tasks(const Transformer& model, const Tokenizer& tok, const std::vector<TaskRecord>& records,
                              const TaskEvalOptions& opt, const std::function<void(size_t, size_t, double)>& on_record) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<size_t> todo = evaluated_records(records, opt.limit);
  const std::vector<std::vector<size_t>> examples = fewshot_examples(records, opt.num_fewshot);
  struct Count {
    int64_t n = 0, acc = 0, acc_norm = 0;
  };
  std::vector<std::string> order;
  std::map<std::string, Count> per_task;
  Count all;
  TaskEvalResult res;
  for (size_t done = 0; done < todo.size(); ++done) {
    const size_t idx = todo[done];
    const TaskRecord& r = records[idx];
    const EncodedChoices enc = encode_choices(tok, task_context(records, idx, examples[idx]), task_continuations(r));
    RecordOutcome o;
    o.index = idx;
    try {
      o.logliks = continuation_logliks(model, enc.context, enc.continuations);
    } catch (const Error& e) {
      throw file_error(r.source, e.what());  // name the record
    }
    o.pick = pick_choice(o.logliks, r.choices);
    o.acc = o.pick.pred == r.gold;
    o.acc_norm = o.pick.pred_norm == r.gold;
    for (const auto& c : enc.continuations) res.tokens += int64_t(enc.context.size() + c.size()) - 1;
    if (!per_task.count(r.task)) order.push_back(r.task);
    for (Count* c : {&per_task[r.task], &all}) {
      ++c->n;
      c->acc += o.acc;
      c->acc_norm += o.acc_norm;
    }
    res.records.push_back(std::move(o));
    if (on_record) on_record(done + 1, todo.size(), double(all.acc) / double(all.n));
  }
  for (const std::string& t : order) res.tasks.push_back({t, accuracy_stat(per_task[t].n, per_task[t].acc, per_task[t].acc_norm)});
  res.overall = accuracy_stat(all.n, all.acc, all.acc_norm);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

std::string task_accuracy_table(const std::vector<std::string>& model_names, const std::vector<TaskEvalResult>& results) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"task", "n"};
  for (const std::string& m : model_names) {
    head.push_back(m + " acc");
    head.push_back(m + " acc_norm");
  }
  rows.push_back(head);
  auto cell = [](double v, double se) { return fmt::format("{:.4f} ± {:.4f}", v, se); };
  auto row = [&](const std::string& name, auto&& stat_of) {
    std::vector<std::string> r = {name, std::to_string(stat_of(results.front()).n)};
    for (const TaskEvalResult& res : results) {
      const AccuracyStat& s = stat_of(res);
      r.push_back(cell(s.acc, s.acc_stderr));
      r.push_back(cell(s.acc_norm, s.acc_norm_stderr));
    }
    rows.push_back(r);
  };
  if (!results.empty()) {
    for (size_t t = 0; t < results.front().tasks.size(); ++t)
      row(results.front().tasks[t].task, [t](const TaskEvalResult& r) -> const AccuracyStat& { return r.tasks[t].stat; });
    row("overall", [](const TaskEvalResult& r) -> const AccuracyStat& { return r.overall; });
  }
  // Column widths in characters (UTF-8 continuation bytes do not count).
  auto width = [](const std::string& s) {
    return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  };
  std::vector<size_t> w(head.size(), 3);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], width(r[c]));
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t c = 0; c < rows[i].size(); ++c) {
      const std::string pad(w[c] - width(rows[i][c]), ' ');
      out += "| " + (c == 0 ? rows[i][c] + pad : pad + rows[i][c]) + " ";
    }
    out += "|\n";
    if (i == 0) {
      for (size_t c = 0; c < w.size(); ++c) {  // first column left-aligned, the others right-aligned
        std::string rule(w[c] + 2, '-');
        rule[c == 0 ? 0 : rule.size() - 1] = ':';
        out += "|" + rule;
      }
      out += "|\n";
    }
  }
  return out;
}

}  // namespace llmq
