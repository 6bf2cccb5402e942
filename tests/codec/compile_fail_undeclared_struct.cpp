// Must not compile: a state field whose struct was not declared with STORMRUN_STATE.
// EXPECT: T is not a checkpointable type
// EXPECT: Codec<Undeclared(, void)?>
#include "stormrun/state.hpp"

struct Undeclared {
  int x = 0;
};
struct Holder {
  Undeclared inner;
};
STORMRUN_STATE(Holder, "test.Holder", inner)

int main() {
  return static_cast<int>(stormrun::schema_string<Holder>().size());
}
