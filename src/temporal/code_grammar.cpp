#include "temporal/code_grammar.h"

#include "common/error.h"

#include <algorithm>
#include <map>
#include <set>

namespace rawmed::temporal {

namespace {

using Key = std::vector<uint16_t>;

// The restricted codes of event e: depths below `depth` of every position, in event order.
Key restricted_key(const codec::CodesFile& codes, uint64_t e, int depth) {
  Key key;
  const size_t D = codes.depth;
  for (size_t p = 0; p < codes.positions; ++p)
    for (int d = 0; d < depth; ++d) key.push_back(codes.codes[(e * codes.positions + p) * D + d]);
  return key;
}

}  // namespace

CodeGrammar::CodeGrammar(const codec::CodesFile& codes, const Dataset& dataset, const CodeGrammarSettings& settings)
    : settings_(settings),
      positions_(static_cast<int>(codes.positions)),
      depth_(static_cast<int>(codes.depth)),
      codebook_(static_cast<int>(codes.codebook_size)) {
  if (settings.depth < 0 || settings.depth > depth_)
    fail("code grammar: depth {} is outside 0..{} (the codec's depth)", settings.depth, depth_);
  if (settings.min_patients < 1) fail("code grammar: min_patients must be at least 1 (got {})", settings.min_patients);
  if (settings.escape < 0 || settings.escape > 1) fail("code grammar: escape must be in [0, 1] (got {})", settings.escape);
  if (codes.events != dataset.num_events())
    fail("code grammar: codec/codes.bin has {} events, the dataset {}: re-run the codec stage", codes.events,
         dataset.num_events());
  children_.emplace_back();
  if (!enabled()) return;

  std::map<Key, std::set<std::string>> patients;
  std::map<Key, int64_t> events;
  int64_t train_events = 0;
  for (size_t s = 0; s < dataset.num_stays(); ++s) {
    if (dataset.stays[s].split != kTrain) continue;
    for (uint64_t e = dataset.stay_offsets[s]; e < dataset.stay_offsets[s + 1]; ++e) {
      Key key = restricted_key(codes, e, settings.depth);
      patients[key].insert(dataset.stays[s].patient_id);
      ++events[key];
      ++train_events;
    }
  }
  int64_t covered = 0;
  for (const auto& [key, holders] : patients) {
    if (static_cast<int>(holders.size()) < settings.min_patients) continue;
    ++tuples_;
    covered += events[key];
    int node = 0;
    for (uint16_t code : key) {
      int next = child(node, code);
      if (next < 0) {
        next = static_cast<int>(children_.size());
        auto& list = children_[node];
        list.insert(std::upper_bound(list.begin(), list.end(), std::make_pair(code, -1)), {code, next});
        children_.emplace_back();
      }
      node = next;
    }
  }
  if (tuples_ == 0)
    fail("code grammar: no code tuple is held by {} train patients; lower [generate] code_grammar_depth or "
         "dataset.min_patients_for_token",
         settings.min_patients);
  coverage_ = train_events > 0 ? static_cast<double>(covered) / static_cast<double>(train_events) : 0.0;
}

int CodeGrammar::child(int node, int code) const {
  const auto& list = children_[node];
  auto it = std::lower_bound(list.begin(), list.end(), std::make_pair(static_cast<uint16_t>(code), -1));
  return it != list.end() && it->first == code ? it->second : -1;
}

void CodeGrammar::start(Cursor& cursor, std::mt19937_64& rng) const {
  cursor = Cursor{};
  // Only drawn when used, so that escape = 0 leaves every stay's random stream as it was.
  if (settings_.escape > 0) cursor.free = std::uniform_real_distribution<double>(0.0, 1.0)(rng) < settings_.escape;
}

void CodeGrammar::restrict(const Cursor& cursor, std::vector<char>& allowed) const {
  if (!enabled() || cursor.free || !restricted(cursor.code_index)) return;
  // Both sides are in code order: one pass clears every code that is not a child (called per token).
  auto next = children_[cursor.node].begin(), last = children_[cursor.node].end();
  for (int c = 0; c < codebook_; ++c) {
    if (next != last && next->first == c) ++next;
    else allowed[c] = 0;
  }
}

void CodeGrammar::advance(Cursor& cursor, int code) const {
  if (enabled() && !cursor.free && restricted(cursor.code_index)) {
    cursor.node = child(cursor.node, code);
    if (cursor.node < 0) fail("code grammar: code {} was drawn outside the grammar (internal error)", code);
  }
  ++cursor.code_index;
}

nlohmann::json CodeGrammar::summary() const {
  return {{"depth", settings_.depth},
          {"min_patients", settings_.min_patients},
          {"escape", settings_.escape},
          {"tuples", tuples_},
          {"train_event_coverage", coverage_}};
}

}  // namespace rawmed::temporal
