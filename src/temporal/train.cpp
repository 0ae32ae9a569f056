// `rawmed train --stage temporal`: next-token training of the causal Transformer over
// START [GENDER AGE] (time digits, codes)* END sequences (docs/formats/temporal.md).
#include "common/clock.h"
#include "common/distributed.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/schedule.h"
#include "common/torch_env.h"
#include "common/trainer.h"
#include "common/config.h"
#include "temporal/corpus.h"
#include "temporal/sampler.h"
#include "temporal/temporal.h"
#include "temporal/temporal_config.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>

namespace rawmed::temporal {

namespace {

struct Metrics {
  double loss_sum = 0;
  int64_t tokens = 0, code_correct = 0, code_total = 0, time_correct = 0, time_total = 0;
  double loss() const { return tokens ? loss_sum / double(tokens) : 0; }
  double code_acc() const { return code_total ? double(code_correct) / double(code_total) : 0; }
  double time_acc() const { return time_total ? double(time_correct) / double(time_total) : 0; }
};

// Runs the model on a batch; returns the summed loss and adds counts to `metrics`.
torch::Tensor batch_loss(Transformer& net, const Batch& batch, const GrammarMasks& masks, bool bf16,
                         Metrics& metrics) {
  torch::Tensor logits;
  {
    Bf16Autocast autocast(bf16, batch.input.device());
    logits = net->forward(batch.input);
  }
  logits = masks.apply(logits.to(torch::kFloat), batch.slot);
  const int64_t V = logits.size(-1);
  auto loss = torch::nn::functional::cross_entropy(
      logits.view({-1, V}), batch.target.view(-1),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
  torch::NoGradGuard no_grad;
  auto valid = batch.target != -100;
  auto correct = (logits.argmax(-1) == batch.target) & valid;
  auto is_code = (batch.slot == masks.code_class()).unsqueeze(0) & valid;
  auto is_time = ((batch.slot >= 2) & (batch.slot < masks.code_class())).unsqueeze(0) & valid;
  metrics.loss_sum += loss.item<double>();
  metrics.tokens += batch.tokens;
  metrics.code_correct += (correct & is_code).sum().item<int64_t>();
  metrics.code_total += is_code.sum().item<int64_t>();
  metrics.time_correct += (correct & is_time).sum().item<int64_t>();
  metrics.time_total += is_time.sum().item<int64_t>();
  return loss;
}

nlohmann::json metrics_json(const Metrics& m);
Metrics metrics_from_json(const nlohmann::json& j);

// The metrics of every rank added up (one process: `m`).
Metrics summed(const DataParallel& dp, const Metrics& m) {
  if (!dp.active()) return m;
  std::vector<double> values = metrics_json(m).get<std::vector<double>>();
  dp.sum(values);
  return metrics_from_json(nlohmann::json(values));
}

// Under data parallelism each rank scores every world-th batch and the metrics are summed.
Metrics evaluate(Transformer& net, const Corpus& corpus, const std::vector<std::vector<int32_t>>& sequences,
                 const GrammarMasks& masks, int batch_size, bool bf16, torch::Device device, const DataParallel& dp) {
  torch::NoGradGuard no_grad;
  net->eval();
  Metrics m;
  std::vector<size_t> order(sequences.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sequences[a].size() < sequences[b].size(); });
  size_t batch_index = 0;
  for (size_t first = 0; first < order.size(); first += batch_size, ++batch_index) {
    if (batch_index % static_cast<size_t>(dp.world()) != static_cast<size_t>(dp.rank())) continue;
    std::vector<size_t> ids(order.begin() + first, order.begin() + std::min(order.size(), first + batch_size));
    batch_loss(net, corpus.make_batch(sequences, ids, device), masks, bf16, m);
  }
  return summed(dp, m);
}

// Linear warm-up, then cosine decay over max_epochs. Unlike the codec's, this schedule ignores a
// --max-minutes budget: a temporal model cut off after a few minutes is far from converged and
// learns more at the full rate (MIMIC-IV demo, 4 minutes: valid loss 3.73 against 4.11 when the
// cosine ended at the deadline; notes/issue-3.md, session 7).
double learning_rate(const TemporalConfig& c, int64_t step, int64_t total_steps) {
  if (step < c.warmup_steps) return c.lr * double(step + 1) / double(c.warmup_steps);
  return cosine_lr(c.lr, c.min_lr_ratio, run_progress(step - c.warmup_steps, total_steps - c.warmup_steps, 0, 0));
}

std::unique_ptr<torch::optim::AdamW> make_optimizer(Transformer& net, const TemporalConfig& c) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : net->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(c.lr).weight_decay(c.weight_decay)));
  groups.emplace_back(no_decay,
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(c.lr).weight_decay(0)));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(c.lr));
}

struct TrainState {
  int epochs_done = 0;
  int64_t step = 0;
  double best_loss = std::numeric_limits<double>::infinity();
  Patience patience;
  nlohmann::json history = nlohmann::json::array();
  // Set when a stop signal cut epoch epochs_done + 1: the batches done, their metrics and the
  // dropout generator, so that the resumed epoch goes on exactly where it stopped.
  int64_t next_batch = 0;
  Metrics partial;
  torch::Tensor torch_rng;
};

nlohmann::json metrics_json(const Metrics& m) {
  return {m.loss_sum, m.tokens, m.code_correct, m.code_total, m.time_correct, m.time_total};
}

Metrics metrics_from_json(const nlohmann::json& j) {
  Metrics m;
  if (!j.is_array() || j.size() != 6) return m;
  m.loss_sum = j[0].get<double>();
  m.tokens = static_cast<int64_t>(j[1].get<double>());
  m.code_correct = static_cast<int64_t>(j[2].get<double>());
  m.code_total = static_cast<int64_t>(j[3].get<double>());
  m.time_correct = static_cast<int64_t>(j[4].get<double>());
  m.time_total = static_cast<int64_t>(j[5].get<double>());
  return m;
}

void save_checkpoint(const fs::path& path, Transformer& net, torch::optim::AdamW& optimizer, const TrainState& s,
                     const nlohmann::json& model_json) {
  torch::serialize::OutputArchive archive, weights, optim;
  net->save(weights);
  optimizer.save(optim);
  archive.write("model", weights);
  archive.write("optimizer", optim);
  nlohmann::json state = {{"epochs_done", s.epochs_done}, {"step", s.step},  {"best_loss", s.best_loss},
                          {"history", s.history},         {"model", model_json}, {"next_batch", s.next_batch},
                          {"partial", metrics_json(s.partial)}};
  s.patience.to_json(state);
  archive.write("state", torch::IValue(state.dump()));
  if (s.torch_rng.defined()) archive.write("torch_rng", s.torch_rng);
  save_checkpoint_archive(path, archive);
}

TrainState load_checkpoint(const fs::path& path, Transformer& net, torch::optim::AdamW& optimizer,
                           const nlohmann::json& model_json) {
  TrainState s;
  try {
    torch::serialize::InputArchive archive, weights, optim;
    load_checkpoint_archive(path, archive);
    torch::IValue state_value;
    archive.read("state", state_value);
    auto state = nlohmann::json::parse(state_value.toStringRef());
    if (state.at("model") != model_json)
      fail("{}: checkpoint was made with another model or sequence layout; remove it or train without --resume",
           path.string());
    archive.read("model", weights);
    net->load(weights);
    archive.read("optimizer", optim);
    optimizer.load(optim);
    s.epochs_done = state.at("epochs_done");
    s.step = state.at("step");
    s.best_loss = state.at("best_loss").is_null() ? std::numeric_limits<double>::infinity()
                                                  : state.at("best_loss").get<double>();
    s.patience.from_json(state);
    s.history = state.at("history");
    s.next_batch = state.value("next_batch", int64_t{0});
    s.partial = metrics_from_json(state.value("partial", nlohmann::json()));
    if (s.next_batch > 0) archive.read("torch_rng", s.torch_rng);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {  // what() would append LibTorch's C++ stack trace
    fail("{}: cannot read the checkpoint (corrupt?): {}", path.string(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail("{}: cannot read the checkpoint (corrupt?): {}", path.string(), e.what());
  }
  return s;
}

// The Transformer's hyper-parameters from the [temporal] config and the token layout.
ModelConfig model_config_for(const TemporalConfig& tc, const Layout& layout) {
  ModelConfig mc;
  mc.vocab_size = layout.vocab_size();
  mc.max_length = layout.max_length();
  mc.layers = tc.layers;
  mc.d_model = tc.d_model;
  mc.heads = tc.heads;
  mc.ff = tc.ff;
  mc.dropout = tc.dropout;
  mc.sinusoidal = tc.sinusoidal;
  if (tc.time_sinusoid && layout.time_encoding != TimeEncoding::kDigits) {
    mc.time_first = layout.time_token(0);
    mc.time_count = layout.time_values();
    mc.running_clock = tc.running_clock && layout.time_encoding == TimeEncoding::kGap;
  }
  return mc;
}

// The CPU generator that draws dropout masks: saved when a stop signal cuts an epoch, restored on resume.
torch::Tensor dropout_generator_state() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_dropout_generator_state(const torch::Tensor& state) {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// The history entry of one finished (or time-cut) epoch, as train.json records it.
nlohmann::json epoch_entry(int epoch, const Metrics& train, const Metrics& valid, double lr, bool partial,
                           double train_seconds, Clock::time_point epoch_start) {
  return {{"epoch", epoch},
          {"train_loss", train.loss()},
          {"train_code_acc", train.code_acc()},
          {"train_time_acc", train.time_acc()},
          {"valid_loss", valid.loss()},
          {"valid_code_acc", valid.code_acc()},
          {"valid_time_acc", valid.time_acc()},
          {"lr", lr},
          {"partial", partial},
          {"train_tokens_per_second", double(train.tokens) / train_seconds},
          {"seconds", seconds_since(epoch_start)}};
}

}  // namespace

void run_training(const TrainArgs& args) {
  auto started = Clock::now();
  // Data parallelism (common/distributed.h): the same model and batches on every rank, each
  // rank computes its slice of every batch, gradients are summed; only rank 0 writes and logs.
  const DataParallel dp = DataParallel::from_environment();
  const bool writer = dp.is_main();
  if (!writer) set_quiet(true);
  const int threads = setup_torch_threads(args.threads);
  const torch::Device device = dp.device_for_rank(parse_device(args.device));
  CorpusInputs inputs = load_corpus_inputs(args.work, args.config, args.preset);
  TemporalConfig& tc = inputs.config;
  // --max-epochs stops this run early; the learning-rate schedule keeps following the config's
  // max_epochs, so a run stopped after epoch N and resumed is the same as one run.
  const int last_epoch = args.max_epochs >= 0 ? std::min(args.max_epochs, tc.max_epochs) : tc.max_epochs;
  const Corpus& corpus = inputs.corpus;
  const Layout& layout = corpus.layout;
  if (corpus.train.empty()) fail("{}: the dataset has no train stays", (args.work / "dataset").string());

  const ModelConfig mc = model_config_for(tc, layout);
  const nlohmann::json model_json = {{"layout", layout.to_json()}, {"model", mc.to_json()}};

  seed_torch(args.seed);
  TemporalModel model{layout, mc, Transformer(mc)};
  model.net->to(device);
  auto optimizer = make_optimizer(model.net, tc);
  GrammarMasks masks(layout, device);

  const fs::path out = args.work / "temporal";
  fs::create_directories(out);
  const fs::path checkpoint = out / "checkpoint.pt";
  TrainState state;
  if (args.resume && fs::exists(checkpoint)) {
    state = load_checkpoint(checkpoint, model.net, *optimizer, model_json);
    if (!writer) state.partial = Metrics{};  // the partial epoch's sums were saved once, over every rank
    if (writer) log_info("temporal: resuming after epoch {} (step {})", state.epochs_done, state.step);
  } else if (args.resume && writer) {
    log_info("temporal: --resume given but {} does not exist; starting from scratch", checkpoint.string());
  }

  const Unigram unigram = fit_unigram(corpus);
  const double unigram_valid = unigram.loss(corpus, corpus.valid.empty() ? corpus.train : corpus.valid);
  int64_t params = 0;
  for (auto& p : model.net->parameters()) params += p.numel();
  std::mt19937_64 count_rng(args.seed);
  const int64_t steps_per_epoch = int64_t(corpus.train_batches(tc.batch_size, tc.batch_tokens, count_rng).size());
  const int64_t total_steps = steps_per_epoch * std::max(1, tc.max_epochs);
  if (writer)
    log_info("temporal: {} train / {} valid stays, {} train tokens, vocab {}, max length {}, {:.2f}M parameters, "
             "{} threads x {} rank(s), unigram valid loss {:.4f}",
             corpus.train.size(), corpus.valid.size(), corpus.train_tokens, layout.vocab_size(), layout.max_length(),
             params / 1e6, threads, dp.world(), unigram_valid);

  std::string stopped = "max_epochs";
  auto write_report = [&] {
    nlohmann::json report = {
        {"format", "rawmed-temporal-train/1"},
        {"preset", tc.preset},
        {"config", tc.to_json()},
        {"config_file", inputs.config_file.string()},
        {"layout", layout.to_json()},
        {"model", mc.to_json()},
        {"parameters", params},
        {"seed", args.seed},
        {"bf16", args.bf16},
        {"device", device.str()},
        {"ranks", dp.world()},
        {"runtime", torch_runtime_info()},
        {"inputs", inputs.fingerprints},
        {"sequences", corpus.summary()},
        {"unigram_valid_loss", unigram_valid},
        {"best_epoch", state.patience.best_epoch},
        {"best_valid_loss", std::isfinite(state.best_loss) ? nlohmann::json(state.best_loss) : nlohmann::json()},
        {"margin_below_unigram",
         std::isfinite(state.best_loss) ? nlohmann::json(unigram_valid - state.best_loss) : nlohmann::json()},
        {"epochs", state.history},
        {"stopped", stopped},
        {"seconds", seconds_since(started)}};
    if (writer) write_json_atomic(out / "train.json", report);
  };

  const bool has_valid = !corpus.valid.empty();
  StopSignals signals;
  if (last_epoch < tc.max_epochs) stopped = "max_epochs_flag";
  for (int epoch = state.epochs_done; epoch < last_epoch; ++epoch) {
    if (state.patience.exhausted(tc.patience)) {
      stopped = "early_stopping";
      break;
    }
    if (args.max_minutes > 0 && seconds_since(started) > args.max_minutes * 60) {
      stopped = "max_minutes";
      break;
    }
    // Seeded per epoch, so --resume from an epoch boundary repeats the same batches and dropout.
    torch::manual_seed(args.seed * 1000003 + epoch);
    std::mt19937_64 rng(args.seed * 1000003 + epoch);
    auto batches = corpus.train_batches(tc.batch_size, tc.batch_tokens, rng);
    model.net->train();
    Metrics train;
    size_t first_batch = 0;
    if (state.next_batch > 0) {  // resuming the epoch a stop signal cut
      first_batch = static_cast<size_t>(state.next_batch);
      train = state.partial;
      set_dropout_generator_state(state.torch_rng);
      state.next_batch = 0;
    }
    auto epoch_start = Clock::now();
    Progress progress(fmt::format("epoch {}/{}", epoch + 1, tc.max_epochs), corpus.train_tokens, "tok");
    double lr = 0;
    bool out_of_time = false;
    for (size_t b = first_batch; b < batches.size(); ++b) {
      const std::vector<size_t> ids = dp.slice(batches[b]);
      Batch batch;
      if (!ids.empty()) batch = corpus.make_batch(corpus.train, ids, device);
      // The time limit is also checked inside an epoch (one MIMIC-IV epoch can take minutes); the
      // partial epoch is evaluated and counted as done, so --resume goes on with the next one.
      // Ranks sum their target tokens (the loss is the mean over the whole batch) and agree on it.
      std::vector<double> step_info = {double(batch.tokens),
                                       args.max_minutes > 0 && seconds_since(started) > args.max_minutes * 60 ? 1.0 : 0.0};
      dp.sum(step_info);
      if (step_info[1] > 0) {
        out_of_time = true;
        break;
      }
      lr = learning_rate(tc, state.step, total_steps);
      set_adamw_learning_rate(*optimizer, lr);
      optimizer->zero_grad();
      double batch_loss_value = 0;
      if (!ids.empty()) {
        auto loss = batch_loss(model.net, batch, masks, args.bf16, train) / step_info[0];
        loss.backward();
        batch_loss_value = loss.item<double>();
      }
      dp.sum_gradients(model.net->parameters());
      if (tc.clip > 0) torch::nn::utils::clip_grad_norm_(model.net->parameters(), tc.clip);
      optimizer->step();
      ++state.step;
      progress.advance(static_cast<int64_t>(step_info[0]));
      progress.set_postfix(fmt::format("loss {:.4f}", batch_loss_value));
      if (int sig = dp.max(stop_signal())) {
        state.next_batch = static_cast<int64_t>(b + 1);
        state.partial = summed(dp, train);
        state.torch_rng = dropout_generator_state();
        if (writer) save_checkpoint(checkpoint, model.net, *optimizer, state, model_json);
        dp.max(0);  // every rank waits here until rank 0 has written the checkpoint
        fail("temporal: stopped by {} in epoch {} after step {}; {} written. Resume with `rawmed train --stage "
             "temporal --work {} --resume`, or run the same `rawmed run` again",
             signal_name(sig), epoch + 1, state.step, checkpoint.string(), args.work.string());
      }
    }
    progress.finish();
    const double train_seconds = seconds_since(epoch_start);
    train = summed(dp, train);
    Metrics valid =
        has_valid ? evaluate(model.net, corpus, corpus.valid, masks, tc.batch_size, false, device, dp) : train;
    state.epochs_done = epoch + 1;
    state.history.push_back(epoch_entry(epoch + 1, train, valid, lr, out_of_time, train_seconds, epoch_start));
    bool better = valid.loss() < state.best_loss;
    if (better) {
      state.best_loss = valid.loss();
      if (writer) save_model(out / "model.pt", model);
    }
    state.patience.record(better, epoch + 1);
    if (writer) {
      log_info("temporal: epoch {} train {:.4f} valid {:.4f} (unigram {:.4f}) code acc {:.3f} time acc {:.3f} "
               "{:.0f} tok/s{}",
               epoch + 1, train.loss(), valid.loss(), unigram_valid, valid.code_acc(), valid.time_acc(),
               double(train.tokens) / train_seconds, better ? " *" : "");
      save_checkpoint(checkpoint, model.net, *optimizer, state, model_json);
    }
    write_report();
    if (out_of_time) {
      stopped = "max_minutes";
      break;
    }
  }
  if (!writer) return;
  if (state.patience.best_epoch < 0) {
    // No finished epoch (max_epochs 0 or an immediate time limit): keep the initial weights usable.
    save_model(out / "model.pt", model);
  }
  write_json_atomic(out / "config.json", {{"format", "rawmed-temporal/1"},
                                          {"layout", layout.to_json()},
                                          {"model", mc.to_json()},
                                          {"train", tc.to_json()}});
  write_report();
  log_info("temporal: best valid loss {:.4f} at epoch {} (unigram {:.4f}); {} in {:.0f} s", state.best_loss,
           state.patience.best_epoch, unigram_valid, (out / "model.pt").string(), seconds_since(started));
}

}  // namespace rawmed::temporal
