#include "text/serialize.h"
#include "text/vocab.h"

#include <gtest/gtest.h>

namespace rawmed {
namespace {

std::vector<int> places(const std::string& text) {
  auto dpe = digit_places(text);
  return std::vector<int>(dpe.begin(), dpe.end());
}

TEST(DigitPlaces, DecimalsIntegersAndSigns) {
  // tenths.. get 2,3,4,5; the point 1; units 8, tens 9, ...
  EXPECT_EQ(places("0.0001"), (std::vector<int>{8, 1, 2, 3, 4, 5}));
  EXPECT_EQ(places("12.5"), (std::vector<int>{9, 8, 1, 2}));
  EXPECT_EQ(places("-3"), (std::vector<int>{0, 8}));
  EXPECT_EQ(places("07"), (std::vector<int>{9, 8}));
  EXPECT_EQ(places("1-2"), (std::vector<int>{8, 0, 8}));
  // 11 digits: no overflow into "none" (the reference collides at 9 digits and crashes at 10).
  EXPECT_EQ(places("12345678901"), (std::vector<int>{18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8}));
  // A dot not followed by a digit is not a decimal point; text around numbers is "none".
  EXPECT_EQ(places("5. mg"), (std::vector<int>{8, 0, 0, 0, 0}));
  EXPECT_EQ(places("1.2.3"), (std::vector<int>{8, 1, 2, 0, 8}));
}

TEST(DigitPlaces, VeryLongIntegersClampAtTheLastPlace) {
  auto dpe = digit_places(std::string(40, '9'));
  EXPECT_EQ(dpe.front(), kDpeMax);
  EXPECT_EQ(dpe.back(), kDpeUnits);
  for (auto d : dpe) EXPECT_LT(d, kNumDpe);
}

TEST(NormalizeNumber, RoundsAndDropsTrailingZeros) {
  EXPECT_EQ(normalize_number("7.40", 4), "7.4");
  EXPECT_EQ(normalize_number("140.0", 4), "140");
  EXPECT_EQ(normalize_number("0.12345", 4), "0.1235");
  EXPECT_EQ(normalize_number("0.0001", 4), "0.0001");
  EXPECT_EQ(normalize_number("1e5", 4), "100000");
  EXPECT_EQ(normalize_number("-3", 4), "-3");
  EXPECT_EQ(normalize_number("-0.00001", 4), "0");
  EXPECT_EQ(normalize_number("12345678901", 4), "12345678901");
  EXPECT_EQ(normalize_number("07", 4), "7");
  EXPECT_EQ(normalize_number(".5", 4), "0.5");
  EXPECT_FALSE(normalize_number("1-2", 4));
  EXPECT_FALSE(normalize_number("nan", 4));
  EXPECT_FALSE(normalize_number("inf", 4));
  EXPECT_FALSE(normalize_number("", 4));
  EXPECT_FALSE(normalize_number("12abc", 4));
}

class EncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table = vocab.add("labevents", TokenKind::kTable);
    columns = {vocab.add("itemid", TokenKind::kColumn), vocab.add("valuenum", TokenKind::kColumn),
               vocab.add("comments", TokenKind::kColumn)};
    vocab.add("Creatinine", TokenKind::kValue);
    vocab.add("HEMOLYSIS", TokenKind::kWord);
    vocab.add(" FALSELY", TokenKind::kWord);
  }
  DecodedEvent round_trip(const std::vector<std::string_view>& values, const std::vector<bool>& numeric,
                          int max_tokens = 128) {
    EventEncoder encoder(vocab, max_tokens);
    encoder.encode(table, columns, values, numeric, &encoded);
    return vocab.decode_event(encoded.tokens.data(), encoded.types.data(), encoded.tokens.size());
  }
  Vocab vocab;
  uint16_t table;
  std::vector<uint16_t> columns;
  EncodedEvent encoded;
};

TEST_F(EncoderTest, WholeValuesWordsAndBytesRoundTrip) {
  auto decoded = round_trip({"Creatinine", "1.1", "HEMOLYSIS FALSELY élevé 07"}, {false, true, false});
  ASSERT_TRUE(decoded.ok) << decoded.error;
  EXPECT_EQ(decoded.table, "labevents");
  ASSERT_EQ(decoded.pairs.size(), 3u);
  EXPECT_EQ(decoded.pairs[0], (std::pair<std::string, std::string>{"itemid", "Creatinine"}));
  EXPECT_EQ(decoded.pairs[1].second, "1.1");
  EXPECT_EQ(decoded.pairs[2].second, "HEMOLYSIS FALSELY élevé 07");
  // "Creatinine" is one token; "1.1" is three digit/point tokens with places units, point, tenths.
  EXPECT_EQ(encoded.tokens[2], vocab.find(TokenKind::kValue, "Creatinine"));
  EXPECT_EQ(encoded.dpe[4], kDpeUnits);
  EXPECT_EQ(encoded.dpe[5], kDpePoint);
  EXPECT_EQ(encoded.dpe[6], kDpeFirstFraction);
  EXPECT_EQ(encoded.tokens.back(), kSepId);
  EXPECT_EQ(encoded.types.back(), kTypeSep);
}

TEST_F(EncoderTest, NullsAreSkipped) {
  auto decoded = round_trip({"Creatinine", "", "x"}, {false, true, false});
  ASSERT_TRUE(decoded.ok);
  ASSERT_EQ(decoded.pairs.size(), 2u);
  EXPECT_EQ(decoded.pairs[1].first, "comments");
}

TEST_F(EncoderTest, TruncationDropsWholeTrailingPairs) {
  std::string long_text(200, 'z');
  auto decoded = round_trip({"Creatinine", "1.1", long_text}, {false, true, false}, 32);
  ASSERT_TRUE(decoded.ok);
  EXPECT_TRUE(encoded.truncated);
  EXPECT_EQ(encoded.pairs_kept, 2u);
  EXPECT_EQ(decoded.pairs.size(), 2u);
  EXPECT_LE(encoded.tokens.size(), 32u);
}

TEST_F(EncoderTest, DecoderRejectsBrokenGrammar) {
  std::vector<uint16_t> tokens = {columns[0], vocab.find(TokenKind::kValue, "Creatinine"), kSepId};
  std::vector<uint8_t> types = {kTypeColumn, kTypeValue, kTypeSep};
  EXPECT_FALSE(vocab.decode_event(tokens.data(), types.data(), tokens.size()).ok);  // no table
  tokens = {table, columns[0], kSepId};
  types = {kTypeTable, kTypeColumn, kTypeSep};
  EXPECT_FALSE(vocab.decode_event(tokens.data(), types.data(), tokens.size()).ok);  // column without value
  tokens = {table, columns[0], Vocab::byte_id('7')};
  types = {kTypeTable, kTypeColumn, kTypeValue};
  EXPECT_FALSE(vocab.decode_event(tokens.data(), types.data(), tokens.size()).ok);  // no SEP
}

}  // namespace
}  // namespace rawmed
