#pragma once
#include "codec/codec.h"
// The token layout of one stay for the temporal model (docs/formats/temporal.md):
//   START [GENDER AGE] (t_1 .. t_T c_1 .. c_PD)* END
// Codes are 0..K-1 (one space for every position and depth), then PAD, END, START, the time
// tokens, and (if conditioned) one token per gender and per age group. The time of an event is
// one gap token (slots since the previous event), one absolute-slot token, or T decimal digits
// of the slot (the layout of models trained before the gap token; still loaded).
// Torch-free: the grammar is shared by training (slot masks), sampling and tests.
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace rawmed::temporal {

// Age groups for conditioning, by lower bound in years.
inline const std::vector<std::string> kAgeGroups = {"18-44", "45-64", "65-79", "80+"};
inline const std::vector<double> kAgeGroupLower = {0, 45, 65, 80};
int age_group_of(double age);

// What kind of token a sequence position holds (the grammar).
enum class Slot { kStart, kGender, kAge, kTime, kCode };

// How an event's time is written.
enum class TimeEncoding {
  kGap,     // one token: slots since the previous event (the first: since admission)
  kMinute,  // one token: the absolute slot
  kDigits,  // T tokens: decimal digits of the absolute slot, most significant first
};
TimeEncoding parse_time_encoding(const std::string& name);  // "gap" | "minute" | "digits"
std::string time_encoding_name(TimeEncoding encoding);

struct Layout {
  int codebook = 1024;         // K
  int codes_per_event = 8;     // P * D
  int positions = 4, depth = 2;
  TimeEncoding time_encoding = TimeEncoding::kDigits;
  int time_digits = 2;         // time tokens per event: 1, or the digits of the largest slot
  int resolution_minutes = 10;
  int max_time_slot = 72;      // window / resolution
  int max_events = 0;          // E, the per-stay cap
  bool conditioned = false;
  std::vector<std::string> genders;  // conditioning tokens (train-split values, sorted)

  int pad() const { return codebook; }
  int end() const { return codebook + 1; }
  int start() const { return codebook + 2; }
  // Time token v: digit v (kDigits) or slot / gap v (0..max_time_slot).
  int time_token(int v) const { return codebook + 3 + v; }
  int digit(int d) const { return time_token(d); }
  int time_values() const { return time_encoding == TimeEncoding::kDigits ? 10 : max_time_slot + 1; }
  bool is_time_token(int token) const { return token >= time_token(0) && token < time_token(time_values()); }
  int time_value(int token) const { return token - time_token(0); }
  int gender_token(int g) const { return time_token(time_values()) + g; }
  int age_token(int a) const { return gender_token(static_cast<int>(genders.size())) + a; }
  int vocab_size() const {
    return time_token(time_values()) + (conditioned ? static_cast<int>(genders.size() + kAgeGroups.size()) : 0);
  }

  int prefix_length() const { return conditioned ? 3 : 1; }
  int event_length() const { return time_digits + codes_per_event; }
  // START + prefix + E events + END.
  int64_t max_length() const { return prefix_length() + int64_t(max_events) * event_length() + 1; }

  // Position p of a full sequence (p = 0 is START). For kTime, `digit_index` is set.
  Slot slot(int64_t p, int* digit_index = nullptr) const;
  // Slot classes for training masks: 0 gender, 1 age, 2..2+T-1 time digit j, 2+T code.
  int slot_class(int64_t p) const;
  int num_slot_classes() const { return 3 + time_digits; }
  // Tokens the grammar allows in a slot class (time digit 0 also allows END).
  std::vector<int> allowed_tokens(int slot_class) const;

  int time_slot(int32_t minutes) const;  // clamped to [0, max_time_slot]
  int32_t slot_minutes(int slot) const { return slot * resolution_minutes; }
  void time_to_digits(int slot, int* digits) const;  // most significant first
  // Appends the time tokens of an event at `slot` after one at `previous_slot` (<= slot).
  void write_time(int slot, int previous_slot, std::vector<int32_t>& seq) const;
  // The slot of the event whose time_digits time tokens start at `tokens`.
  int read_time(const int32_t* tokens, int previous_slot) const;

  nlohmann::json to_json() const;
  static Layout from_json(const nlohmann::json& j);
};

// Builds a layout for a window and resolution (time_digits follows from the window).
Layout make_layout(int codebook, int positions, int depth, int window_hours, int resolution_minutes, int max_events,
                   bool conditioned, std::vector<std::string> genders,
                   TimeEncoding time_encoding = TimeEncoding::kDigits);

// One stay's tokens. `codes` holds n_events * P * D codes; events past the cap are cut.
std::vector<int32_t> encode_stay(const Layout& layout, const int32_t* minutes, const uint16_t* codes,
                                 size_t n_events, int gender, int age_group);

// Grammar state while sampling one sequence; tells which tokens may come next.
struct GrammarState {
  int64_t position = 0;   // index of the next token in the sequence
  int events = 0;         // completed or started events
  int previous_time = 0;  // time slot of the previous event (times are non-decreasing)
  int time_prefix = 0;    // digits of the current time slot read so far (kDigits)
  bool lift_times = false;   // times below the previous one are lifted to it (lift_time_digit),
                             // instead of masked away
  bool time_lifted = false;  // the current event's time is being lifted
  bool ended = false;
  std::vector<int32_t> tokens;
};

// Fills `allowed` (size vocab) with 1 where a token may come next. `gender`/`age_mask` restrict
// the conditioning tokens (gender < 0: any; age_mask empty: any); END needs `min_events` events.
void allowed_next(const Layout& layout, const GrammarState& state, int gender, const std::vector<char>& age_mask,
                  std::vector<char>& allowed, int min_events = 1);
void advance(const Layout& layout, GrammarState& state, int token);
// With state.lift_times, call on each sampled token before advance(): a time digit that would put
// the event before the previous one becomes the previous time's digit, and the rest of the time
// follows it, so the event time is max(t, previous) for the t the model draws (kMinute: the slot
// token itself; kGap has no earlier times to lift). Masking the earlier
// times instead renormalises the model's time distribution over later times only, which moves
// every uncertain draw forward. Returns the token to use.
int lift_time_digit(const Layout& layout, GrammarState& state, int token);

// codes.bin (docs/file-formats.md "Event codes"): one reader and writer, in the codec stage.
using Codes = codec::CodesFile;

}  // namespace rawmed::temporal
