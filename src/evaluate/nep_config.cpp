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
  const char* c = "evaluate.nep";
  check_keys(*t,
             {"hidden", "max_epochs", "patience", "batch_size", "learning_rate", "threshold", "valid_fraction",
              "max_items", "max_steps", "max_train_seconds", "seed"},
             c, file);
  config.hidden = static_cast<int>(get_int(*t, "hidden", config.hidden, c, file));
  config.max_epochs = static_cast<int>(get_int(*t, "max_epochs", config.max_epochs, c, file));
  config.patience = static_cast<int>(get_int(*t, "patience", config.patience, c, file));
  config.batch_size = static_cast<int>(get_int(*t, "batch_size", config.batch_size, c, file));
  config.learning_rate = get_double(*t, "learning_rate", config.learning_rate, c, file);
  config.threshold = get_double(*t, "threshold", config.threshold, c, file);
  config.valid_fraction = get_double(*t, "valid_fraction", config.valid_fraction, c, file);
  config.max_items = static_cast<int>(get_int(*t, "max_items", config.max_items, c, file));
  config.max_steps = static_cast<int>(get_int(*t, "max_steps", config.max_steps, c, file));
  config.max_train_seconds = get_double(*t, "max_train_seconds", config.max_train_seconds, c, file);
  config.seed = static_cast<uint64_t>(get_int(*t, "seed", static_cast<int64_t>(config.seed), c, file));
  if (config.hidden < 1 || config.max_epochs < 1 || config.batch_size < 1 || config.max_items < 1 || config.max_steps < 2)
    fail("{}: 'evaluate.nep': hidden, max_epochs, batch_size, max_items must be >= 1 and max_steps >= 2", file.string());
  if (!(config.threshold > 0 && config.threshold < 1) || !(config.valid_fraction >= 0 && config.valid_fraction < 1))
    fail("{}: 'evaluate.nep': threshold must be in (0, 1) and valid_fraction in [0, 1)", file.string());
  return config;
}

}  // namespace rawmed::eval
