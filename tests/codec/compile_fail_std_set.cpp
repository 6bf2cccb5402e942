// Must not compile: std::set is not a checkpointable type.
// EXPECT: T is not a checkpointable type
// EXPECT: Codec<std::set<int>(, void)?>
#include <set>

#include "stormrun/codec.hpp"

int main() {
  const std::set<int> values{1, 2};
  return stormrun::to_value(values).is_null() ? 0 : 1;
}
