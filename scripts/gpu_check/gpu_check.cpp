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

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: gpu_check CONFIG WORK [DEVICE]\n");
    return 2;
  }
  std::string device = argc > 3 ? argv[3] : "cuda";
  try {
    std::printf("runtime: %s\n", rawmed::torch_runtime_info().dump().c_str());
    rawmed::prepare(rawmed::load_config(argv[1]), argv[2]);
    rawmed::TrainArgs args;
    args.work = argv[2];
    args.preset = "tiny";
    args.device = device;
    args.max_epochs = 2;
    rawmed::codec::run_training(args);
    std::printf("codec: %s\n", rawmed::read_json(args.work / "codec" / "train.json").dump().substr(0, 1500).c_str());
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
