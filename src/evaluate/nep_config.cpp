#include "common/error.h"
#include "evaluate/nep.h"
#include "common/config_fields.h"

namespace rawmed::eval {

NepConfig parse_nep_config(const toml::table& evaluate, const std::filesystem::path& file) {
  NepConfig config;
  const toml::node* node = evaluate.get("nep");
  if (!node) return config;
  const toml::table* t = node->as_table();
  if (!t) fail("{}: 'evaluate.nep' must be a table", file.string());
  apply_fields(config, *t, "evaluate.nep", file);
  if (config.hidden < 1 || config.max_epochs < 1 || config.batch_size < 1 || config.max_items < 1 || config.max_steps < 2)
    fail("{}: 'evaluate.nep': hidden, max_epochs, batch_size, max_items must be >= 1 and max_steps >= 2", file.string());
  if (!(config.threshold > 0 && config.threshold < 1) || !(config.valid_fraction >= 0 && config.valid_fraction < 1))
    fail("{}: 'evaluate.nep': threshold must be in (0, 1) and valid_fraction in [0, 1)", file.string());
  return config;
}

}  // namespace rawmed::eval
