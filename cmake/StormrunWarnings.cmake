# Compile flags shared by every stormrun target: warnings on, optional sanitizers.
add_library(stormrun_flags INTERFACE)
target_compile_options(stormrun_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${STORMRUN_WERROR}>>:-Werror>
  # GCC 12 at -O3 (Release) reports "literal" + std::string&& as an overlapping memcpy: a
  # known false positive in libstdc++ (GCC PR 105329), so -Wrestrict is off for GCC 12 only.
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>
  # Reproducibility (DESIGN.md §6): no FMA contraction, no fast-math, on both sides.
  $<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off>
  $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false -Xcompiler=-Wall,-Wextra>)
if(STORMRUN_SANITIZE)
  target_compile_options(stormrun_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
  target_link_options(stormrun_flags INTERFACE -fsanitize=address,undefined)
endif()
if(STORMRUN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "STORMRUN_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Every library is instrumented for coverage (ASan and UBSan come with STORMRUN_SANITIZE,
  # which STORMRUN_FUZZ turns on); the fuzz targets link libFuzzer's main.
  target_compile_options(stormrun_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
endif()
if(STORMRUN_TSAN)
  target_compile_options(stormrun_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=thread -fno-omit-frame-pointer>)
  target_link_options(stormrun_flags INTERFACE -fsanitize=thread)
endif()
# Open MPI's deprecated C++ bindings come in with every <mpi.h> included from C++ (also via
# the parallel hdf5.h) and then need libmpi_cxx at link time; stormrun uses the C API only.
target_compile_definitions(stormrun_flags INTERFACE OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)
