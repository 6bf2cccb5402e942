// stormrun: restartable ensemble forecast inference (app/main_entry.hpp).
#include "app/main_entry.hpp"

int main(int argc, char** argv) {
  return stormrun::app::main_entry(argc, argv);
}
