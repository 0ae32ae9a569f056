#include "temporal/layout.h"

#include "common/error.h"
#include "common/fs.h"

#include <algorithm>
#include <cstring>

namespace rawmed::temporal {

int age_group_of(double age) {
  int group = 0;
  for (size_t g = 0; g < kAgeGroupLower.size(); ++g)
    if (age >= kAgeGroupLower[g]) group = static_cast<int>(g);
  return group;
}

TimeEncoding parse_time_encoding(const std::string& name) {
  if (name == "gap") return TimeEncoding::kGap;
  if (name == "minute") return TimeEncoding::kMinute;
  if (name == "digits") return TimeEncoding::kDigits;
  fail("time encoding '{}' is unknown (use gap, minute or digits)", name);
}

std::string time_encoding_name(TimeEncoding encoding) {
  switch (encoding) {
    case TimeEncoding::kGap: return "gap";
    case TimeEncoding::kMinute: return "minute";
    case TimeEncoding::kDigits: break;
  }
  return "digits";
}

static int64_t power10(int n) {
  int64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

Slot Layout::slot(int64_t p, int* digit_index) const {
  if (p == 0) return Slot::kStart;
  if (conditioned && p == 1) return Slot::kGender;
  if (conditioned && p == 2) return Slot::kAge;
  int q = static_cast<int>((p - prefix_length()) % event_length());
  if (q < time_digits) {
    if (digit_index) *digit_index = q;
    return Slot::kTime;
  }
  return Slot::kCode;
}

int Layout::slot_class(int64_t p) const {
  int j = 0;
  switch (slot(p, &j)) {
    case Slot::kGender: return 0;
    case Slot::kAge: return 1;
    case Slot::kTime: return 2 + j;
    case Slot::kCode: return 2 + time_digits;
    case Slot::kStart: break;
  }
  fail("temporal: position 0 (START) has no slot class");
}

std::vector<int> Layout::allowed_tokens(int slot_class) const {
  std::vector<int> out;
  if (slot_class < 2 && !conditioned) return out;
  if (slot_class == 0) {
    for (size_t g = 0; g < genders.size(); ++g) out.push_back(gender_token(static_cast<int>(g)));
  } else if (slot_class == 1) {
    for (size_t a = 0; a < kAgeGroups.size(); ++a) out.push_back(age_token(static_cast<int>(a)));
  } else if (slot_class < 2 + time_digits) {
    for (int v = 0; v < time_values(); ++v) out.push_back(time_token(v));
    if (slot_class == 2) out.push_back(end());
  } else {
    for (int c = 0; c < codebook; ++c) out.push_back(c);
  }
  return out;
}

int Layout::time_slot(int32_t minutes) const {
  return std::clamp(minutes / resolution_minutes, 0, max_time_slot);
}

void Layout::time_to_digits(int slot, int* digits) const {
  for (int j = time_digits - 1; j >= 0; --j) {
    digits[j] = slot % 10;
    slot /= 10;
  }
}

void Layout::write_time(int slot, int previous_slot, std::vector<int32_t>& seq) const {
  switch (time_encoding) {
    case TimeEncoding::kGap: seq.push_back(time_token(slot - previous_slot)); return;
    case TimeEncoding::kMinute: seq.push_back(time_token(slot)); return;
    case TimeEncoding::kDigits: break;
  }
  int digits[16];
  time_to_digits(slot, digits);
  for (int j = 0; j < time_digits; ++j) seq.push_back(digit(digits[j]));
}

int Layout::read_time(const int32_t* tokens, int previous_slot) const {
  switch (time_encoding) {
    case TimeEncoding::kGap: return previous_slot + time_value(tokens[0]);
    case TimeEncoding::kMinute: return time_value(tokens[0]);
    case TimeEncoding::kDigits: break;
  }
  int slot = 0;
  for (int j = 0; j < time_digits; ++j) slot = slot * 10 + time_value(tokens[j]);
  return slot;
}

nlohmann::json Layout::to_json() const {
  return {{"time_encoding", time_encoding_name(time_encoding)},
          {"codebook", codebook},       {"positions", positions},
          {"depth", depth},             {"time_digits", time_digits},
          {"resolution_minutes", resolution_minutes}, {"max_time_slot", max_time_slot},
          {"max_events", max_events},   {"conditioned", conditioned},
          {"genders", genders},         {"age_groups", kAgeGroups},
          {"vocab_size", vocab_size()}, {"max_length", max_length()}};
}

Layout Layout::from_json(const nlohmann::json& j) {
  Layout l;
  l.codebook = j.at("codebook");
  l.positions = j.at("positions");
  l.depth = j.at("depth");
  l.codes_per_event = l.positions * l.depth;
  // Models trained before the time encoding was a choice wrote digits and have no key.
  l.time_encoding = parse_time_encoding(j.value("time_encoding", "digits"));
  l.time_digits = j.at("time_digits");
  l.resolution_minutes = j.at("resolution_minutes");
  l.max_time_slot = j.at("max_time_slot");
  l.max_events = j.at("max_events");
  l.conditioned = j.at("conditioned");
  l.genders = j.at("genders").get<std::vector<std::string>>();
  return l;
}

Layout make_layout(int codebook, int positions, int depth, int window_hours, int resolution_minutes, int max_events,
                   bool conditioned, std::vector<std::string> genders, TimeEncoding time_encoding) {
  if (codebook <= 0 || codebook > 65535 || positions <= 0 || depth <= 0)
    fail("temporal: bad code shape K={} P={} D={}", codebook, positions, depth);
  if (window_hours <= 0 || resolution_minutes <= 0)
    fail("temporal: bad window {} h or time resolution {} min", window_hours, resolution_minutes);
  if (max_events <= 0) fail("temporal: the per-stay event cap must be positive (got {})", max_events);
  Layout l;
  l.codebook = codebook;
  l.positions = positions;
  l.depth = depth;
  l.codes_per_event = positions * depth;
  l.resolution_minutes = resolution_minutes;
  l.max_time_slot = window_hours * 60 / resolution_minutes;
  l.time_encoding = time_encoding;
  l.time_digits = time_encoding == TimeEncoding::kDigits ? static_cast<int>(std::to_string(l.max_time_slot).size()) : 1;
  l.max_events = max_events;
  l.conditioned = conditioned;
  if (conditioned) l.genders = std::move(genders);
  return l;
}

std::vector<int32_t> encode_stay(const Layout& layout, const int32_t* minutes, const uint16_t* codes,
                                 size_t n_events, int gender, int age_group) {
  size_t kept = std::min(n_events, static_cast<size_t>(layout.max_events));
  std::vector<int32_t> seq;
  seq.reserve(layout.prefix_length() + kept * layout.event_length() + 1);
  seq.push_back(layout.start());
  if (layout.conditioned) {
    seq.push_back(layout.gender_token(gender));
    seq.push_back(layout.age_token(age_group));
  }
  int previous = 0;
  for (size_t e = 0; e < kept; ++e) {
    // Events are stored in time order; clamping keeps the grammar's non-decreasing rule.
    int slot = std::max(previous, layout.time_slot(minutes[e]));
    layout.write_time(slot, previous, seq);
    previous = slot;
    for (int c = 0; c < layout.codes_per_event; ++c) {
      int code = codes[e * layout.codes_per_event + c];
      if (code >= layout.codebook) fail("temporal: code {} is outside the codebook ({})", code, layout.codebook);
      seq.push_back(code);
    }
  }
  seq.push_back(layout.end());
  return seq;
}

void allowed_next(const Layout& layout, const GrammarState& state, int gender, const std::vector<char>& age_mask,
                  std::vector<char>& allowed, int min_events) {
  allowed.assign(layout.vocab_size(), 0);
  if (state.ended) {
    allowed[layout.pad()] = 1;  // fed after END while the rest of the batch runs; never recorded
    return;
  }
  int j = 0;
  switch (layout.slot(state.position, &j)) {
    case Slot::kStart: allowed[layout.start()] = 1; return;
    case Slot::kGender:
      for (size_t g = 0; g < layout.genders.size(); ++g)
        if (gender < 0 || gender == static_cast<int>(g)) allowed[layout.gender_token(static_cast<int>(g))] = 1;
      return;
    case Slot::kAge:
      for (size_t a = 0; a < kAgeGroups.size(); ++a)
        if (age_mask.empty() || age_mask[a]) allowed[layout.age_token(static_cast<int>(a))] = 1;
      return;
    case Slot::kCode:
      std::fill(allowed.begin(), allowed.begin() + layout.codebook, 1);
      return;
    case Slot::kTime: break;
  }
  if (j == 0) {
    if (state.events >= std::clamp(min_events, 1, layout.max_events)) allowed[layout.end()] = 1;
    if (state.events >= layout.max_events) return;  // the cap: only END
  }
  if (layout.time_encoding == TimeEncoding::kGap) {
    for (int gap = 0; gap <= layout.max_time_slot - state.previous_time; ++gap) allowed[layout.time_token(gap)] = 1;
    return;
  }
  if (layout.time_encoding == TimeEncoding::kMinute) {
    for (int slot = state.lift_times ? 0 : state.previous_time; slot <= layout.max_time_slot; ++slot)
      allowed[layout.time_token(slot)] = 1;
    return;
  }
  // A digit is allowed when some completion lies in [previous_time, max_time_slot] (lifting
  // times: in [0, max_time_slot]; a lifted time follows the previous one).
  int64_t remaining = power10(layout.time_digits - j - 1);
  if (state.lift_times && j > 0 && state.time_lifted) {
    allowed[layout.digit(static_cast<int>(state.previous_time / remaining % 10))] = 1;
    return;
  }
  int64_t prefix = j == 0 ? 0 : state.time_prefix;
  int64_t lowest = state.lift_times ? 0 : state.previous_time;
  for (int d = 0; d < 10; ++d) {
    int64_t low = (prefix * 10 + d) * remaining;
    int64_t high = low + remaining - 1;
    if (high >= lowest && low <= layout.max_time_slot) allowed[layout.digit(d)] = 1;
  }
}

int lift_time_digit(const Layout& layout, GrammarState& state, int token) {
  int j = 0;
  if (!state.lift_times || state.ended || token == layout.end() || layout.slot(state.position, &j) != Slot::kTime)
    return token;
  if (layout.time_encoding != TimeEncoding::kDigits) {
    bool earlier = layout.time_encoding == TimeEncoding::kMinute && layout.time_value(token) < state.previous_time;
    return earlier ? layout.time_token(state.previous_time) : token;
  }
  if (j == 0) state.time_lifted = false;
  int64_t remaining = power10(layout.time_digits - j - 1);
  int previous_digit = static_cast<int>(state.previous_time / remaining % 10);
  int64_t prefix = j == 0 ? 0 : state.time_prefix;
  int64_t high = (prefix * 10 + (token - layout.digit(0))) * remaining + remaining - 1;
  if (state.time_lifted || high < state.previous_time) {
    state.time_lifted = true;
    return layout.digit(previous_digit);
  }
  return token;
}

void advance(const Layout& layout, GrammarState& state, int token) {
  if (state.ended) return;
  state.tokens.push_back(token);
  int j = 0;
  Slot slot = layout.slot(state.position, &j);
  ++state.position;
  if (token == layout.end()) {
    state.ended = true;
    return;
  }
  if (slot != Slot::kTime) return;
  if (j == 0) {
    ++state.events;
    state.time_prefix = 0;
  }
  if (layout.time_encoding != TimeEncoding::kDigits) {
    state.previous_time = layout.read_time(&state.tokens.back(), state.previous_time);
    return;
  }
  state.time_prefix = state.time_prefix * 10 + layout.time_value(token);
  if (j == layout.time_digits - 1) state.previous_time = state.time_prefix;
}

}  // namespace rawmed::temporal
