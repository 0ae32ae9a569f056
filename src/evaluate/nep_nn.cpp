// Next-event prediction with a one-layer LSTM (docs/method.md, section 7). Differences from the
// reference: every step of a training stay is a target at once (the reference draws one random cut
// per stay and epoch), which sees the same prefixes with less variance; the test score pools all
// steps of each real test stay, and the reference's one-cut-per-stay score is reported beside it.
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/torch_env.h"
#include "evaluate/nep.h"
#include "evaluate/utility.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace rawmed::eval {
namespace {

struct NextEventLstm : torch::nn::Module {
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear head{nullptr};
  NextEventLstm(int items, int hidden) {
    lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(items, hidden).batch_first(true)));
    head = register_module("head", torch::nn::Linear(hidden, items));
  }
  // [B, T, items] multi-hot sets -> [B, T, items] logits of the set at the next step.
  torch::Tensor forward(const torch::Tensor& sets) { return head(std::get<0>(lstm->forward(sets))); }
};

// Inputs = steps 0..L-2, targets = steps 1..L-1, padded to the longest stay of the batch.
struct Batch {
  torch::Tensor inputs, targets, mask;  // [B, T, V], [B, T, V], [B, T]
};

Batch make_batch(const std::vector<ItemSetSequence>& sequences, std::span<const int> ids, int items,
                 const torch::Device& device) {
  int64_t steps = 0;
  for (int i : ids) steps = std::max<int64_t>(steps, static_cast<int64_t>(sequences[static_cast<size_t>(i)].size()) - 1);
  const int64_t b = static_cast<int64_t>(ids.size());
  torch::Tensor inputs = torch::zeros({b, steps, items}), targets = torch::zeros({b, steps, items}),
                mask = torch::zeros({b, steps});
  auto in = inputs.accessor<float, 3>(), out = targets.accessor<float, 3>();
  auto m = mask.accessor<float, 2>();
  for (int64_t k = 0; k < b; ++k) {
    const ItemSetSequence& seq = sequences[static_cast<size_t>(ids[static_cast<size_t>(k)])];
    for (size_t t = 0; t + 1 < seq.size(); ++t) {
      for (int32_t item : seq[t]) in[k][static_cast<int64_t>(t)][item] = 1;
      for (int32_t item : seq[t + 1]) out[k][static_cast<int64_t>(t)][item] = 1;
      m[k][static_cast<int64_t>(t)] = 1;
    }
  }
  return {inputs.to(device), targets.to(device), mask.to(device)};
}

// Predicted sets (probability > threshold) of every target step of `ids`, in order (stay, step).
std::vector<std::vector<int32_t>> predict_sets(NextEventLstm& model, const std::vector<ItemSetSequence>& sequences,
                                               std::span<const int> ids, int items, int batch_size, double threshold,
                                               const torch::Device& device) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<int32_t>> out;
  for (size_t start = 0; start < ids.size(); start += static_cast<size_t>(batch_size)) {
    auto chunk = ids.subspan(start, std::min(ids.size() - start, static_cast<size_t>(batch_size)));
    Batch batch = make_batch(sequences, chunk, items, device);
    torch::Tensor predicted = (torch::sigmoid(model.forward(batch.inputs)) > threshold).to(torch::kCPU);
    auto p = predicted.accessor<bool, 3>();
    for (size_t k = 0; k < chunk.size(); ++k) {
      int64_t targets = static_cast<int64_t>(sequences[static_cast<size_t>(chunk[k])].size()) - 1;
      for (int64_t t = 0; t < targets; ++t) {
        std::vector<int32_t> set;
        for (int32_t v = 0; v < items; ++v)
          if (p[static_cast<int64_t>(k)][t][v]) set.push_back(v);
        out.push_back(std::move(set));
      }
    }
  }
  return out;
}

// True sets of every target step of `ids`, in the order of predict_sets.
std::vector<std::vector<int32_t>> true_sets(const std::vector<ItemSetSequence>& sequences, std::span<const int> ids) {
  std::vector<std::vector<int32_t>> out;
  for (int i : ids) {
    const ItemSetSequence& seq = sequences[static_cast<size_t>(i)];
    for (size_t t = 1; t < seq.size(); ++t) out.push_back(seq[t]);
  }
  return out;
}

std::vector<int> usable(const std::vector<ItemSetSequence>& sequences) {
  std::vector<int> ids;
  for (size_t i = 0; i < sequences.size(); ++i)
    if (sequences[i].size() >= 2) ids.push_back(static_cast<int>(i));
  return ids;
}

std::string item_key(const Table& table, size_t row, const StringPool& pool) {
  return table.item < 0 ? table.name() : table.name() + "|" + row_item(table, row, pool);
}

nlohmann::json number(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

}  // namespace

std::vector<std::string> nep_vocabulary(const Database& train, const StringPool& pool, int max_items) {
  std::unordered_map<std::string, int64_t> counts;
  for (const Table& table : train.tables)
    for (size_t r = 0; r < table.rows(); ++r) ++counts[item_key(table, r, pool)];
  std::vector<std::pair<int64_t, std::string>> ranked;
  for (auto& [key, n] : counts) ranked.push_back({-n, key});
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> vocabulary;
  for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < max_items; ++i) vocabulary.push_back(ranked[i].second);
  return vocabulary;
}

std::vector<ItemSetSequence> item_set_sequences(const Database& db, const StringPool& pool,
                                                const std::vector<std::string>& vocabulary, int max_steps) {
  std::unordered_map<std::string, int32_t> index;
  for (size_t i = 0; i < vocabulary.size(); ++i) index[vocabulary[i]] = static_cast<int32_t>(i);
  std::vector<ItemSetSequence> out(db.stays.size());
  for (size_t s = 0; s < db.stays.size(); ++s) {
    ItemSetSequence& seq = out[s];
    std::vector<int32_t> step;
    auto close_step = [&] {
      std::sort(step.begin(), step.end());
      step.erase(std::unique(step.begin(), step.end()), step.end());
      if (!step.empty() && static_cast<int>(seq.size()) < max_steps) seq.push_back(step);
      step.clear();
    };
    int32_t minute = 0;
    bool first = true;
    for (const EventRef& e : db.stay_events(s)) {
      if (!first && e.minute != minute) close_step();
      first = false;
      minute = e.minute;
      auto it = index.find(item_key(db.tables[static_cast<size_t>(e.table)], static_cast<size_t>(e.row), pool));
      if (it != index.end()) step.push_back(it->second);
    }
    close_step();
  }
  return out;
}

double micro_f1(std::span<const std::vector<int32_t>> truth, std::span<const std::vector<int32_t>> predicted) {
  double tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    std::vector<int32_t> common;
    std::set_intersection(truth[i].begin(), truth[i].end(), predicted[i].begin(), predicted[i].end(),
                          std::back_inserter(common));
    tp += static_cast<double>(common.size());
    fp += static_cast<double>(predicted[i].size() - common.size());
    fn += static_cast<double>(truth[i].size() - common.size());
  }
  return tp + fp + fn == 0 ? NAN : 2 * tp / (2 * tp + fp + fn);
}

nlohmann::json train_and_score_nep(const std::vector<ItemSetSequence>& sequences, const std::vector<ItemSetSequence>& test,
                                   int items, const NepConfig& config) {
  auto start = Clock::now();
  const torch::Device device = parse_device(config.device);
  std::vector<int> ids = usable(sequences), test_ids = usable(test);
  nlohmann::json out = {{"train_sequences", ids.size()}};
  if (ids.empty() || test_ids.empty()) {
    out["note"] = ids.empty() ? "no training stay has 2 or more steps: F1 0" : "no test stay has 2 or more steps";
    out["micro_f1"] = ids.empty() ? nlohmann::json(0.0) : nlohmann::json(nullptr);
    return out;
  }
  std::mt19937_64 rng(config.seed);
  std::shuffle(ids.begin(), ids.end(), rng);
  size_t n_valid = static_cast<size_t>(std::floor(config.valid_fraction * static_cast<double>(ids.size())));
  if (ids.size() - n_valid < 1) n_valid = 0;
  std::vector<int> valid_ids(ids.end() - static_cast<long>(n_valid), ids.end());
  ids.resize(ids.size() - n_valid);
  std::sort(valid_ids.begin(), valid_ids.end());

  // Per-item loss weights 1 / log(count + 1.1), normalised to mean 1 (the reference's).
  std::vector<double> counts(static_cast<size_t>(items), 0);
  for (int i : ids)
    for (const auto& step : sequences[static_cast<size_t>(i)])
      for (int32_t v : step) counts[static_cast<size_t>(v)] += 1;
  std::vector<float> w;
  for (double n : counts) w.push_back(static_cast<float>(1.0 / std::log(n + 1.1)));
  torch::Tensor weights = torch::tensor(w);
  weights = (weights / weights.mean()).to(device);

  seed_torch(config.seed);
  NextEventLstm model(items, config.hidden);
  {
    // Start from each item's base rate per step, so the first epochs do not predict every item
    // (with few stays there are only a few updates per epoch).
    torch::NoGradGuard no_grad;
    double steps = 0;
    for (int i : ids) steps += static_cast<double>(sequences[static_cast<size_t>(i)].size());
    std::vector<float> logit;
    for (double n : counts) {
      double p = std::clamp(n / std::max(steps, 1.0), 1e-4, 0.5);
      logit.push_back(static_cast<float>(std::log(p / (1 - p))));
    }
    model.head->bias.copy_(torch::tensor(logit));
  }
  model.to(device);
  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(config.learning_rate));
  std::vector<torch::Tensor> best;
  double best_f1 = -std::numeric_limits<double>::infinity();
  int best_epoch = -1, epoch = 0, stale = 0;
  std::string stopped = "max_epochs";
  std::vector<std::vector<int32_t>> valid_truth = true_sets(sequences, valid_ids);
  // Batches of stays of similar length (little padding), visited in a new random order each epoch.
  std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) {
    return sequences[static_cast<size_t>(a)].size() < sequences[static_cast<size_t>(b)].size();
  });
  std::vector<std::span<const int>> batches;
  for (size_t s = 0; s < ids.size(); s += static_cast<size_t>(config.batch_size))
    batches.push_back(std::span<const int>(ids).subspan(s, std::min(ids.size() - s, static_cast<size_t>(config.batch_size))));
  for (; epoch < config.max_epochs; ++epoch) {
    model.train();
    std::shuffle(batches.begin(), batches.end(), rng);
    double loss_sum = 0;
    for (std::span<const int> chunk : batches) {
      Batch batch = make_batch(sequences, chunk, items, device);
      torch::Tensor logits = model.forward(batch.inputs);
      torch::Tensor loss = torch::binary_cross_entropy_with_logits(logits, batch.targets, {}, {}, at::Reduction::None);
      loss = (loss * weights * batch.mask.unsqueeze(-1)).sum() / (batch.mask.sum() * items);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
    }
    model.eval();
    double f1 = valid_ids.empty()
                    ? -loss_sum  // no validation split: keep the epoch with the lowest training loss
                    : micro_f1(valid_truth, predict_sets(model, sequences, valid_ids, items, config.batch_size,
                                                         config.threshold, device));
    if (std::isnan(f1)) f1 = 0;
    if (f1 > best_f1) {
      best_f1 = f1;
      best_epoch = epoch;
      stale = 0;
      best.clear();
      for (const auto& p : model.parameters()) best.push_back(p.detach().clone());
    } else if (++stale >= config.patience) {
      stopped = "early_stopping";
      ++epoch;
      break;
    }
    double elapsed = seconds_since(start);
    if (elapsed > config.max_train_seconds) {
      stopped = "time_cap";
      ++epoch;
      break;
    }
  }
  {
    torch::NoGradGuard no_grad;
    auto params = model.parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
  }
  model.eval();
  std::vector<std::vector<int32_t>> predicted =
      predict_sets(model, test, test_ids, items, config.batch_size, config.threshold, device);
  std::vector<std::vector<int32_t>> truth = true_sets(test, test_ids);
  // The reference's score: one cut per test stay, drawn once from a fixed seed (the same for every
  // model): the step at the cut is predicted from the steps before it.
  std::mt19937_64 cut_rng(12345);
  std::vector<std::vector<int32_t>> cut_truth, cut_predicted;
  size_t offset = 0;
  for (int i : test_ids) {
    size_t targets = test[static_cast<size_t>(i)].size() - 1;
    size_t cut = std::uniform_int_distribution<size_t>(0, targets - 1)(cut_rng);
    cut_truth.push_back(truth[offset + cut]);
    cut_predicted.push_back(predicted[offset + cut]);
    offset += targets;
  }
  out["valid_sequences"] = valid_ids.size();
  out["epochs"] = epoch;
  out["best_epoch"] = best_epoch;
  out["valid_micro_f1"] = valid_ids.empty() ? nlohmann::json(nullptr) : number(best_f1);
  out["stopped_by"] = stopped;
  out["micro_f1"] = number(micro_f1(truth, predicted));
  out["micro_f1_one_cut"] = number(micro_f1(cut_truth, cut_predicted));
  out["seconds"] = seconds_since(start);
  return out;
}

nlohmann::json evaluate_next_event(const Database& train, const Database& test, const Database& candidate,
                                   const StringPool& pool, const NepConfig& config) {
  auto start = Clock::now();
  std::vector<std::string> vocabulary = nep_vocabulary(train, pool, config.max_items);
  const int items = static_cast<int>(vocabulary.size());
  std::vector<ItemSetSequence> real_train = item_set_sequences(train, pool, vocabulary, config.max_steps);
  std::vector<ItemSetSequence> real_test = item_set_sequences(test, pool, vocabulary, config.max_steps);
  std::vector<ItemSetSequence> cand = item_set_sequences(candidate, pool, vocabulary, config.max_steps);
  log_info("next-event prediction: {} items, {} real train / {} candidate / {} real test stays", items,
           real_train.size(), cand.size(), real_test.size());
  if (items == 0) fail("next-event prediction: the real train split has no rows");

  // A model-free reference point: predict that the previous step repeats.
  std::vector<int> test_ids = usable(real_test);
  std::vector<std::vector<int32_t>> truth = true_sets(real_test, test_ids), previous;
  for (int i : test_ids)
    for (size_t t = 1; t < real_test[static_cast<size_t>(i)].size(); ++t) previous.push_back(real_test[static_cast<size_t>(i)][t - 1]);
  double repeat_f1 = micro_f1(truth, previous);

  nlohmann::json trtr = train_and_score_nep(real_train, real_test, items, config);
  nlohmann::json tstr = same_data(candidate, test)
                            ? nlohmann::json{{"not_computed", "the candidate is the real test split itself"},
                                             {"micro_f1", nullptr}}
                            : train_and_score_nep(cand, real_test, items, config);
  double seconds = seconds_since(start);
  log_info("next-event prediction: micro-F1 TRTR {}, TSTR {} (repeat-last {:.3f}) ({:.1f} s)", trtr["micro_f1"].dump(),
           tstr["micro_f1"].dump(), repeat_f1, seconds);
  int64_t steps = 0;
  for (const auto& seq : real_test) steps += static_cast<int64_t>(seq.size());
  return {{"headline",
           {{"trtr_micro_f1", trtr["micro_f1"]},
            {"tstr_micro_f1", tstr["micro_f1"]},
            {"trtr_micro_f1_one_cut", trtr.value("micro_f1_one_cut", nlohmann::json(nullptr))},
            {"tstr_micro_f1_one_cut", tstr.value("micro_f1_one_cut", nlohmann::json(nullptr))},
            {"repeat_last_step_micro_f1", number(repeat_f1)}}},
          {"method",
           "item sets per (stay, minute); one-layer LSTM over the previous sets predicts the next set; micro-F1 at "
           "the threshold over all steps of the real test stays (and at one seeded cut per stay)"},
          {"items", items},
          {"real_test", {{"stays", test_ids.size()}, {"steps", steps}}},
          {"trtr", trtr},
          {"tstr", tstr},
          {"config",
           {{"hidden", config.hidden}, {"max_epochs", config.max_epochs}, {"patience", config.patience},
            {"batch_size", config.batch_size}, {"learning_rate", config.learning_rate},
            {"threshold", config.threshold}, {"valid_fraction", config.valid_fraction},
            {"max_items", config.max_items}, {"max_steps", config.max_steps},
            {"max_train_seconds", config.max_train_seconds}, {"seed", config.seed}, {"device", config.device}}},
          {"seconds", seconds}};
}

}  // namespace rawmed::eval
