#ifndef CANOPY_BASE_STRIPE_SOURCE_H_
#define CANOPY_BASE_STRIPE_SOURCE_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace canopy {

// A striped source: one publisher splits its content over `count` flows of
// the same group so the planner can give each its own tree (a striped
// forest). Stripe `index` of source `base` has the source id
// "<base>#<index>/<count>". '#' and '/' never occur in a plain source id, so
// the form is unambiguous. Allow-lists and source filters name the base id
// and cover every stripe of it.
inline constexpr int kMaxStripes = 64;

struct Stripe {
  std::string base;
  int index = 0;  // 0 .. count-1
  int count = 0;  // 2 .. kMaxStripes
};

// "<base>#<index>/<count>". REQUIRES: 0 <= index < count, 2 <= count <= kMaxStripes.
std::string StripeSourceId(absl::string_view base, int index, int count);

// The stripe `source` names, or nullopt for a plain source id (or a
// malformed stripe suffix: leading zeros, index out of range, count outside
// 2..kMaxStripes). Does not validate `base`.
std::optional<Stripe> ParseStripe(absl::string_view source);

// The id that allow-lists and filters match `source` by: its base for a
// stripe, else `source` itself.
absl::string_view BaseSourceId(absl::string_view source);

}  // namespace canopy

#endif  // CANOPY_BASE_STRIPE_SOURCE_H_
