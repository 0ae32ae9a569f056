// Model files carry a CRC-32: a flipped byte is refused at load with one clear message, and a
// file LibTorch cannot read gives the message without LibTorch's C++ stack trace.
#include "codec/trainer.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "temporal/sampler.h"
#include "../test_util.h"

#include <gtest/gtest.h>

namespace rawmed {
namespace {

using test::error_of;

// Flips one byte in the middle of the file, where the weights are.
void flip_middle_byte(const fs::path& path) {
  std::string bytes = read_file(path);
  bytes[bytes.size() / 2] ^= 0x5A;
  write_file_atomic(path, bytes);
}

temporal::TemporalModel tiny_temporal_model() {
  temporal::TemporalModel m;
  m.layout = temporal::make_layout(16, 2, 2, 12, 10, 6, false, {"F", "M"});
  m.config.vocab_size = m.layout.vocab_size();
  m.config.max_length = m.layout.max_length();
  m.config.layers = 1;
  m.config.d_model = 16;
  m.config.heads = 2;
  m.config.ff = 32;
  torch::manual_seed(1);
  m.net = temporal::Transformer(m.config);
  return m;
}

TEST(Checksum, FlippedByteInATemporalModelIsRefused) {
  set_quiet(true);
  auto dir = test::temp_dir("checksum_temporal");
  temporal::save_model(dir / "model.pt", tiny_temporal_model());
  EXPECT_NO_THROW(temporal::load_model(dir / "model.pt", torch::kCPU));
  flip_middle_byte(dir / "model.pt");
  std::string error = error_of([&] { temporal::load_model(dir / "model.pt", torch::kCPU); });
  EXPECT_NE(error.find("model.pt"), std::string::npos) << error;
  EXPECT_NE(error.find("checksum"), std::string::npos) << error;
}

TEST(Checksum, UnreadableTemporalModelGivesOneMessageWithoutAStackTrace) {
  set_quiet(true);
  auto dir = test::temp_dir("checksum_trace");
  temporal::save_model(dir / "model.pt", tiny_temporal_model());
  std::string bytes = read_file(dir / "model.pt");
  write_file_atomic(dir / "model.pt", bytes.substr(0, bytes.size() / 2));  // cut: no trailer left
  std::string error = error_of([&] { temporal::load_model(dir / "model.pt", torch::kCPU); });
  EXPECT_NE(error.find("model.pt"), std::string::npos) << error;
  EXPECT_EQ(error.find("Exception raised from"), std::string::npos) << error;
  EXPECT_EQ(error.find("frame #"), std::string::npos) << error;
}

TEST(Checksum, FlippedByteInACodecModelIsRefused) {
  set_quiet(true);
  auto dir = test::temp_dir("checksum_codec");
  codec::VocabSizes sizes;
  sizes.tokens = 40;
  sizes.length = 16;
  torch::manual_seed(1);
  codec::RQVAE model(codec::codec_preset("tiny"), sizes);
  codec::save_model(dir / "model.pt", model);
  EXPECT_NO_THROW(codec::load_model(dir / "model.pt", torch::kCPU));
  flip_middle_byte(dir / "model.pt");
  std::string error = error_of([&] { codec::load_model(dir / "model.pt", torch::kCPU); });
  EXPECT_NE(error.find("model.pt"), std::string::npos) << error;
  EXPECT_NE(error.find("checksum"), std::string::npos) << error;
}

}  // namespace
}  // namespace rawmed
