#pragma once
// The [generate] section: sampling settings and the editor's rules, listed once in visit() (the
// config_fields.h mechanism), so that the TOML keys, the defaults and generate.json / MANIFEST.json
// come from one place.
#include "common/config.h"

#include <nlohmann/json.hpp>

#include <string>

namespace rawmed::generate {

struct GenerateConfig {
  double temperature = 1.0;
  double time_temperature = 0.0;  // 0: the event temperature
  bool lift_times = true;
  int top_k = 0;  // 0: off (the full distribution; a cut tail moves gaps and codes toward the mode)
  double top_p = 1.0;
  int batch_size = 64;
  // Output stays per seed block (generate/shard.h): every block is sampled from its own seeds,
  // which makes sharded runs equal unsharded ones. A block's first round samples about
  // 1.2 x block_stays stays, so keep it at least the batch size.
  int block_stays = 64;
  double max_sample_factor = 10;  // give up after sampling this many times N stays
  double max_edit_distance = 0.25;
  int min_events = 1;             // default: [dataset] min_events
  std::string anchor = "2100-01-01 00:00:00";
  std::string invalid_events = "reject_stay";  // or "drop_event"
  int code_grammar_depth = 1;     // joint code depths kept on train tuples (temporal/code_grammar.h); 0: off
  double code_grammar_escape = 0; // share of events sampled without the code grammar
  int code_grammar_min_patients = 1;  // train patients a kept tuple needs (0: dataset.min_patients_for_token)

  template <class Self, class F>
  static void visit(Self& c, F&& f) {
    f("temperature", c.temperature), f("time_temperature", c.time_temperature), f("lift_times", c.lift_times);
    f("top_k", c.top_k), f("top_p", c.top_p), f("batch_size", c.batch_size), f("block_stays", c.block_stays);
    f("max_sample_factor", c.max_sample_factor), f("max_edit_distance", c.max_edit_distance);
    f("min_events", c.min_events), f("anchor", c.anchor), f("invalid_events", c.invalid_events);
    f("code_grammar_depth", c.code_grammar_depth), f("code_grammar_escape", c.code_grammar_escape);
    f("code_grammar_min_patients", c.code_grammar_min_patients);
  }

  // Defaults, then [generate]; errors name the file and key.
  static GenerateConfig from_config(const Config& config);
};

}  // namespace rawmed::generate
