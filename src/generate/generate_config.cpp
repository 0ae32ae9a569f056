#include "generate/generate_config.h"

#include "common/error.h"
#include "common/config_fields.h"
#include "common/datetime.h"

namespace rawmed::generate {

GenerateConfig GenerateConfig::from_config(const Config& config) {
  GenerateConfig g;
  g.min_events = config.dataset.min_events;
  apply_fields(g, config_section(config, "generate"), "generate", config.path);
  const std::string file = config.path.string();
  if (g.invalid_events != "reject_stay" && g.invalid_events != "drop_event")
    fail("{}: 'generate.invalid_events' must be \"reject_stay\" or \"drop_event\", not \"{}\"", file, g.invalid_events);
  if (g.block_stays < 1) fail("{}: 'generate.block_stays' must be at least 1", file);
  if (g.max_sample_factor < 1) fail("{}: 'generate.max_sample_factor' must be at least 1", file);
  if (g.max_edit_distance < 0 || g.max_edit_distance >= 1) fail("{}: 'generate.max_edit_distance' must be in [0, 1)", file);
  if (!parse_datetime(g.anchor)) fail("{}: 'generate.anchor' is not a datetime: '{}'", file, g.anchor);
  return g;
}

}  // namespace rawmed::generate
