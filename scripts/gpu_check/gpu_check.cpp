// GPU readiness check: prepare the MIMIC-IV demo, train the tiny codec and temporal presets on
// `--device` (default cuda), sample a few stays there. Built only with -DRAWMED_GPU_CHECK=ON
// against the LibTorch inside a PyTorch install (scripts/gpu-check.sh).
#include "codec/codec.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/torch_env.h"
#include "ingest/prepare.h"
#include "temporal/temporal.h"

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: gpu_check CONFIG WORK [DEVICE [PRESET [MAX_MINUTES [THREADS]]]]\n");
    return 2;
  }
  std::string device = argc > 3 ? argv[3] : "cuda";
  std::string preset = argc > 4 ? argv[4] : "tiny";
  double max_minutes = argc > 5 ? std::atof(argv[5]) : 0;
  int threads = argc > 6 ? std::atoi(argv[6]) : 0;
  try {
    std::printf("runtime: %s\n", rawmed::torch_runtime_info().dump().c_str());
    rawmed::prepare(rawmed::load_config(argv[1]), argv[2]);
    rawmed::TrainArgs args;
    args.work = argv[2];
    args.config = argv[1];  // [codec] / [temporal] overrides come from the given config
    args.preset = preset;
    args.device = device;
    args.max_epochs = preset == "tiny" ? 2 : -1;
    args.max_minutes = max_minutes;
    args.threads = threads;
    rawmed::codec::run_training(args);
    auto codec = rawmed::read_json(args.work / "codec" / "train.json");
    for (const char* key : {"train_exact_event_rate", "valid_exact_event_rate", "test_exact_event_rate",
                            "valid_token_accuracy", "numeric_value_exact_rate", "categorical_value_exact_rate",
                            "codebook_usage", "best_epoch", "events_per_second"})
      if (codec.contains(key)) std::printf("codec %s: %s\n", key, codec[key].dump().c_str());
    if (preset != "tiny") return 0;
    rawmed::temporal::run_training(args);
    std::printf("temporal: %s\n", rawmed::read_json(args.work / "temporal" / "train.json").dump().substr(0, 1500).c_str());
    rawmed::temporal::SampleOptions options;
    options.n = 16;
    options.device = device;
    auto samples = rawmed::temporal::sample_stays(args.work, options);
    std::printf("sampled %zu stays, %zu events, %ld tokens in %.2f s on %s\n", samples.stay_offsets.size() - 1,
                samples.event_minutes.size(), static_cast<long>(samples.tokens), samples.seconds, device.c_str());
  } catch (const rawmed::Error& e) {
    std::fprintf(stderr, "gpu_check: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
