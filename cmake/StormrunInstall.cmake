# Install rules (docs/install.md): `cmake --install BUILD --prefix P` puts
#   P/bin/stormrun                                  the command
#   P/bin/stormrun-quicklook, stormrun-export-cdo   the output tools (Python)
#   P/include/stormrun/...                          the public headers
#   P/lib/libstormrun_*.a                           the libraries (static)
#   P/lib/cmake/stormrun/                           find_package(stormrun CONFIG [COMPONENTS ...])
#   P/share/stormrun/jobs/                          the SLURM job scripts
#   P/share/doc/stormrun/                           README.md and docs/
#   P/share/modulefiles/stormrun/VERSION.lua        the Lmod modulefile
# Every installed file is relocatable: none names the build or source tree, and the
# modulefile and the CMake package find the prefix from where they lie.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(STORMRUN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/stormrun" CACHE STRING
    "Where the CMake package goes, relative to the install prefix")
set(STORMRUN_INSTALL_MODULEFILEDIR "${CMAKE_INSTALL_DATADIR}/modulefiles" CACHE STRING
    "The Lmod tree the modulefile goes into (as stormrun/VERSION.lua), relative to the prefix")

# The MPI module the modulefile depends on (Lmod depends_on: loaded with stormrun, and
# stormrun refuses to load when no such module exists). The default is named after the MPI
# this build links (read from its mpi.h); a site names its own module ("openmpi/4.1.4",
# "mpi/openmpi-x86_64"), or sets it empty when its MPI is the system's and has no module.
set(default_mpi_module mpi)
if(EXISTS "${MPI_C_HEADER_DIR}/mpi.h")
  file(STRINGS "${MPI_C_HEADER_DIR}/mpi.h" mpi_flavour REGEX "define (OMPI_MAJOR_VERSION|MPICH_VERSION|I_MPI_VERSION)")
  if(mpi_flavour MATCHES "I_MPI_VERSION")
    set(default_mpi_module intel-mpi)
  elseif(mpi_flavour MATCHES "OMPI_MAJOR_VERSION")
    set(default_mpi_module openmpi)
  elseif(mpi_flavour MATCHES "MPICH_VERSION")
    set(default_mpi_module mpich)
  endif()
endif()
set(STORMRUN_MODULE_MPI "${default_mpi_module}" CACHE STRING
    "Lmod module of the MPI stormrun was built with, which the modulefile depends on (empty: none)")

foreach(dir STORMRUN_INSTALL_CMAKEDIR STORMRUN_INSTALL_MODULEFILEDIR CMAKE_INSTALL_BINDIR
            CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_DATADIR)
  if(IS_ABSOLUTE "${${dir}}")
    message(FATAL_ERROR "${dir}=${${dir}} is absolute: the install must be relocatable, so give "
                        "it relative to the prefix (cmake --install BUILD --prefix P)")
  endif()
endforeach()

# --- the command -------------------------------------------------------------------------
# The installed stormrun keeps the run-time search path of the shared libraries it links
# outside the system's default directories (Debian's parallel HDF5 and Open MPI, CUDA):
# without it, it does not start. The build tree is never among them (every stormrun library
# is static).
set_target_properties(stormrun PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS stormrun RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The output tools beside it. stormrun-quicklook finds the shared plotting style in
# ../share/stormrun/python from where it lies (or ../python in a checkout).
install(PROGRAMS scripts/stormrun-quicklook scripts/stormrun-export-cdo
        DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES python/stormrun_plotstyle.py DESTINATION ${CMAKE_INSTALL_DATADIR}/stormrun/python)

# --- the headers -------------------------------------------------------------------------
install(DIRECTORY include/stormrun DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# --- the libraries and the CMake package ---------------------------------------------------
# Two export sets, so that the checkpoint library needs nothing of the rest:
#   checkpoint: stormrun::checkpoint (session API), stormrun::store, stormrun::codec. Needs
#               MPI (rank detection calls MPI_Initialized), Threads, nlohmann_json, xxhash;
#               no CUDA, no HDF5.
#   forecast:   stormrun::model_numerics, stormrun::model, stormrun::io, stormrun::runtime,
#               stormrun::workflow. Needs parallel HDF5, MPI C and C++, and CUDA (+ NCCL) when
#               this build has them.
# The helper targets stormrun_xxhash, stormrun_hdf5 and stormrun_nccl carry this machine's
# paths in the build tree only ($<BUILD_INTERFACE>); stormrunConfig.cmake fills them in from a
# search on the consumer's machine. stormrun_flags (warnings, sanitizers) reaches consumers
# only as link options (a sanitizer build's -fsanitize), never as compile flags.
set(checkpoint_targets stormrun_codec stormrun_store stormrun_checkpoint stormrun_xxhash
                       stormrun_flags)
set(forecast_targets stormrun_model_numerics stormrun_model stormrun_io stormrun_runtime
                     stormrun_workflow stormrun_hdf5)
if(TARGET stormrun_nccl)
  list(APPEND forecast_targets stormrun_nccl)
endif()
foreach(target IN LISTS checkpoint_targets forecast_targets)
  string(REGEX REPLACE "^stormrun_" "" export_name ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
endforeach()
set_target_properties(stormrun_flags PROPERTIES EXPORT_NAME build_flags)

install(TARGETS ${checkpoint_targets} EXPORT stormrunCheckpointTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ${forecast_targets} EXPORT stormrunForecastTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT stormrunCheckpointTargets NAMESPACE stormrun:: FILE stormrun-checkpoint-targets.cmake
        DESTINATION ${STORMRUN_INSTALL_CMAKEDIR})
install(EXPORT stormrunForecastTargets NAMESPACE stormrun:: FILE stormrun-forecast-targets.cmake
        DESTINATION ${STORMRUN_INSTALL_CMAKEDIR})

# The config file's build facts. Where xxhash lay here is only a hint there, and none when it
# is one of the linker's own directories (the search finds it there anyway).
get_filename_component(STORMRUN_XXHASH_HINT "${XXHASH_LIBRARY}" DIRECTORY)
if(STORMRUN_XXHASH_HINT IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
  set(STORMRUN_XXHASH_HINT "")
endif()
foreach(flag STORMRUN_HAVE_CUDA STORMRUN_HAVE_NCCL)
  if(${flag})
    set(${flag}_CONFIG ON)
  else()
    set(${flag}_CONFIG OFF)
  endif()
endforeach()
configure_package_config_file(cmake/stormrunConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/package/stormrunConfig.cmake
                              INSTALL_DESTINATION ${STORMRUN_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/stormrunConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/stormrunConfig.cmake
              ${PROJECT_BINARY_DIR}/package/stormrunConfigVersion.cmake
        DESTINATION ${STORMRUN_INSTALL_CMAKEDIR})

# --- the job scripts and the docs --------------------------------------------------------
install(DIRECTORY jobs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/stormrun/jobs USE_SOURCE_PERMISSIONS)
# README.md beside docs/, so that its links (docs/NAME.md) hold in the installed copy too.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

# --- the Lmod modulefile ------------------------------------------------------------------
# It lies at PREFIX/<STORMRUN_INSTALL_MODULEFILEDIR>/stormrun/VERSION.lua and walks up that
# many directories to find PREFIX, so the prefix can move as a whole.
cmake_path(SET module_dir NORMALIZE "${STORMRUN_INSTALL_MODULEFILEDIR}/stormrun")
string(REPLACE "/" ";" module_dir_parts "${module_dir}")
list(REMOVE_ITEM module_dir_parts "" ".")
if(".." IN_LIST module_dir_parts)
  message(FATAL_ERROR "STORMRUN_INSTALL_MODULEFILEDIR=${STORMRUN_INSTALL_MODULEFILEDIR} leaves the "
                      "prefix: give a directory inside it (default share/modulefiles)")
endif()
list(LENGTH module_dir_parts module_dir_depth)
math(EXPR STORMRUN_MODULE_DEPTH "${module_dir_depth} + 1") # + the file itself
if(STORMRUN_MODULE_MPI STREQUAL "")
  set(STORMRUN_MODULE_MPI_RULE "-- No MPI module: STORMRUN_MODULE_MPI was empty at configure time.")
else()
  set(STORMRUN_MODULE_MPI_RULE "depends_on(\"${STORMRUN_MODULE_MPI}\")")
endif()
configure_file(cmake/stormrun-modulefile.lua.in
               ${PROJECT_BINARY_DIR}/modulefiles/stormrun/${PROJECT_VERSION}.lua @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/modulefiles/stormrun/${PROJECT_VERSION}.lua
        DESTINATION ${STORMRUN_INSTALL_MODULEFILEDIR}/stormrun)
