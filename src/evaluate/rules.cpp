#include "evaluate/rules.h"

#include "text/serialize.h"

#include <fmt/format.h>

#include <array>
#include <unordered_map>

namespace rawmed::eval {
namespace {

std::vector<RuleTable> train_rule_tables(const Database& train, const StringPool& pool, int decimals) {
  std::vector<RuleTable> out;
  std::unordered_map<std::string, int32_t> patients;
  for (const auto& t : train.tables) {
    RuleTable table;
    table.name = t.name();
    table.item = t.item;
    for (const auto& c : t.columns) {
      table.columns.push_back(c.name);
      table.types.push_back(c.type);
    }
    for (size_t r = 0; r < t.rows(); ++r) {
      std::vector<std::string> values;
      for (auto& [column, value] : row_pairs(t, r, pool, decimals)) values.push_back(std::move(value));
      table.rows.push_back(std::move(values));
      const std::string& patient = train.stays[static_cast<size_t>(t.stay[r])].patient_id;
      table.patients.push_back(patients.emplace(patient, static_cast<int32_t>(patients.size())).first->second);
    }
    out.push_back(std::move(table));
  }
  return out;
}

struct Tally {
  int64_t rows = 0, ok = 0;
  std::array<int64_t, kNumRuleKinds> breaking{};
  void add(const Tally& other) {
    rows += other.rows;
    ok += other.ok;
    for (int k = 0; k < kNumRuleKinds; ++k) breaking[k] += other.breaking[k];
  }
  nlohmann::json to_json() const {
    auto share = [&](int64_t good) { return rows ? nlohmann::json(static_cast<double>(good) / static_cast<double>(rows)) : nlohmann::json(nullptr); };
    nlohmann::json kinds = nlohmann::json::object();
    for (int k = 0; k < kNumRuleKinds; ++k)
      kinds[rule_kind_name(static_cast<RuleKind>(k))] = {{"rows_breaking", breaking[k]},
                                                         {"share_satisfying", share(rows - breaking[k])}};
    return {{"rows", rows}, {"rows_satisfying_all", ok}, {"share_satisfying_all", share(ok)}, {"by_kind", kinds}};
  }
};

}  // namespace

RowPairs row_pairs(const Table& table, size_t row, const StringPool& pool, int decimals) {
  RowPairs pairs;
  for (const auto& c : table.columns) {
    std::string value;
    if (c.is_numeric()) {
      if (!std::isnan(c.values[row])) value = normalize_number(fmt::format("{}", c.values[row]), decimals).value_or("");
    } else if (c.ids[row] >= 0) {
      value = pool.str(c.ids[row]);
    }
    pairs.emplace_back(c.name, std::move(value));
  }
  return pairs;
}

ConstraintSchema rules_for_evaluation(const std::filesystem::path& real, const Database& train, const StringPool& pool) {
  std::filesystem::path file = real / ".." / "dataset" / "constraints.json";
  if (std::filesystem::exists(file)) return ConstraintSchema::load(file.lexically_normal().string());
  ConstraintOptions options;
  return ConstraintSchema::learn(train_rule_tables(train, pool, options.decimals), options);
}

nlohmann::json evaluate_rules(const ConstraintSchema& rules, const Database& db, const StringPool& pool) {
  Tally all;
  nlohmann::json by_table = nlohmann::json::object();
  for (const auto& t : db.tables) {
    Tally tally;
    const TableConstraints* table = rules.find(t.name());
    for (size_t r = 0; r < t.rows(); ++r) {
      ++tally.rows;
      if (!table) {
        ++tally.ok;
        continue;
      }
      auto broken = table->violations(row_pairs(t, r, pool, rules.decimals()));
      if (broken.empty()) ++tally.ok;
      std::array<bool, kNumRuleKinds> kinds{};
      for (size_t i : broken) kinds[static_cast<size_t>(table->rules[i].kind)] = true;
      for (int k = 0; k < kNumRuleKinds; ++k) tally.breaking[k] += kinds[k];
    }
    all.add(tally);
    by_table[t.name()] = tally.to_json();
    by_table[t.name()]["rules"] = table ? table->rules.size() : 0;
  }
  nlohmann::json out = all.to_json();
  out["by_table"] = by_table;
  return out;
}

ScorerFactory rules_scorer() {
  class RulesScorer final : public SectionScorer {
   public:
    explicit RulesScorer(const SectionContext& context)
        : pool_(context.pool), rules_(rules_for_evaluation(context.real, context.train, context.pool)) {}
    nlohmann::json score(const Database& other, const Database*) const override {
      return evaluate_rules(rules_, other, pool_);
    }

   private:
    const StringPool& pool_;
    ConstraintSchema rules_;
  };
  return [](const SectionContext& context) { return std::make_unique<RulesScorer>(context); };
}

}  // namespace rawmed::eval
