# Finds every dependency of stormrun (DESIGN.md §8). Fails with a clear message when one is
# missing; `scripts/setup` installs them all on Debian 12.

find_package(MPI REQUIRED COMPONENTS C CXX)
find_package(Threads REQUIRED)

set(HDF5_PREFER_PARALLEL ON)
# HL: the output's dimension scales (H5DS*, so that xarray/h5netcdf sees named dims) live in
# libhdf5_hl.
find_package(HDF5 REQUIRED COMPONENTS C HL)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "stormrun needs a *parallel* HDF5 (MPI-IO), but the HDF5 found (${HDF5_VERSION}, "
    "${HDF5_C_LIBRARIES}) is serial. On Debian install libhdf5-openmpi-dev (scripts/setup), "
    "or point HDF5_C_COMPILER_EXECUTABLE at the parallel h5pcc.")
endif()
# The found paths are this machine's: they hold in the build tree only. The installed CMake
# package (cmake/StormrunInstall.cmake) exports these helper targets empty and its
# stormrunConfig.cmake fills them from a search on the consumer's machine.
add_library(stormrun_hdf5 INTERFACE)
target_include_directories(stormrun_hdf5 SYSTEM INTERFACE "$<BUILD_INTERFACE:${HDF5_C_INCLUDE_DIRS}>")
target_link_libraries(stormrun_hdf5 INTERFACE
                      "$<BUILD_INTERFACE:${HDF5_C_HL_LIBRARIES};${HDF5_C_LIBRARIES}>" MPI::MPI_C)
target_compile_definitions(stormrun_hdf5 INTERFACE "$<BUILD_INTERFACE:${HDF5_C_DEFINITIONS}>")

find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(doctest REQUIRED)
find_package(nlohmann_json 3 REQUIRED)

find_path(XXHASH_INCLUDE_DIR xxhash.h)
find_library(XXHASH_LIBRARY xxhash)
if(NOT XXHASH_INCLUDE_DIR OR NOT XXHASH_LIBRARY)
  message(FATAL_ERROR "xxhash not found (Debian: libxxhash-dev; run scripts/setup)")
endif()
add_library(stormrun_xxhash INTERFACE)
target_include_directories(stormrun_xxhash SYSTEM INTERFACE $<BUILD_INTERFACE:${XXHASH_INCLUDE_DIR}>)
target_link_libraries(stormrun_xxhash INTERFACE $<BUILD_INTERFACE:${XXHASH_LIBRARY}>)

# CUDA + NCCL: found automatically (AUTO), forced (ON), or left out (OFF).
set(STORMRUN_HAVE_CUDA OFF)
set(STORMRUN_HAVE_NCCL OFF)
if(NOT STORMRUN_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    # CMake 3.25 knows no C++20 flag for nvcc and refuses CUDA_STANDARD 20 at generate
    # time; nvcc 12+ takes -std=c++20, so teach it the flag.
    if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(STORMRUN_HAVE_CUDA ON)
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
    if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
      set(STORMRUN_HAVE_NCCL ON)
      add_library(stormrun_nccl INTERFACE)
      target_include_directories(stormrun_nccl SYSTEM INTERFACE $<BUILD_INTERFACE:${NCCL_INCLUDE_DIR}>)
      target_link_libraries(stormrun_nccl INTERFACE $<BUILD_INTERFACE:${NCCL_LIBRARY}>)
    endif()
  elseif(STORMRUN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "STORMRUN_CUDA=ON but no CUDA compiler was found (set CMAKE_CUDA_COMPILER)")
  endif()
endif()
