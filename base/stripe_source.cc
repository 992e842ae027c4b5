#include "base/stripe_source.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace canopy {
namespace {

// A decimal without sign or leading zeros ("0" itself is fine).
std::optional<int> ParseSmallDecimal(absl::string_view text) {
  if (text.empty() || text.size() > 2 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int value = 0;
  if (!absl::SimpleAtoi(text, &value)) return std::nullopt;
  return value;
}

}  // namespace

std::string StripeSourceId(absl::string_view base, int index, int count) {
  return absl::StrCat(base, "#", index, "/", count);
}

std::optional<Stripe> ParseStripe(absl::string_view source) {
  const size_t hash = source.rfind('#');
  if (hash == absl::string_view::npos || hash == 0) return std::nullopt;
  const absl::string_view suffix = source.substr(hash + 1);
  const size_t slash = suffix.find('/');
  if (slash == absl::string_view::npos) return std::nullopt;
  std::optional<int> index = ParseSmallDecimal(suffix.substr(0, slash));
  std::optional<int> count = ParseSmallDecimal(suffix.substr(slash + 1));
  if (!index || !count || *count < 2 || *count > kMaxStripes || *index >= *count) {
    return std::nullopt;
  }
  return Stripe{std::string(source.substr(0, hash)), *index, *count};
}

absl::string_view BaseSourceId(absl::string_view source) {
  if (!ParseStripe(source)) return source;
  return source.substr(0, source.rfind('#'));
}

}  // namespace canopy
