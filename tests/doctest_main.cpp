// Main of the unit-test executables (plain doctest, no MPI).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
