// `stormrun --version`: what this binary is and what it was built with, read from the
// libraries at run time where they can tell (HDF5, MPI, CUDA runtime, NCCL).
#include <mpi.h>

#include <hdf5.h>

#include <sstream>
#include <string>

#include "app/cli.hpp"
#include "build_info.hpp"
#include "stormrun/store.hpp"

#ifdef STORMRUN_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif
#ifdef STORMRUN_HAVE_NCCL
#include <nccl.h>
#endif

namespace stormrun::app {
namespace {

std::string mpi_library() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string s(text, static_cast<std::size_t>(length));
  // Open MPI puts the repository details after a comma; the first line is enough.
  if (auto cut = s.find_first_of(",\n"); cut != std::string::npos) s.resize(cut);
  return s;
}

std::string hdf5_library() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  std::ostringstream os;
  os << major << '.' << minor << '.' << release;
#ifdef H5_HAVE_PARALLEL
  os << " (parallel, MPI-IO)";
#else
  os << " (serial)";
#endif
  return os.str();
}

#ifdef STORMRUN_HAVE_CUDA
std::string version_number(int v) {
  // CUDA encodes 13000 as 13.0; NCCL 22809 as 2.28.9.
  std::ostringstream os;
  os << v / 1000 << '.' << (v % 1000) / 10;
  return os.str();
}
#endif

std::string accelerator() {
#ifdef STORMRUN_HAVE_CUDA
  std::ostringstream os;
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  os << "CUDA " << version_number(runtime) << " (toolkit " << build::kCudaVersion
     << ", architectures " << build::kCudaArchitectures << ")";
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0) {
    os << ", no CUDA driver on this machine";
  } else {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;
    os << ", driver " << version_number(driver) << ", " << count << " GPU(s) visible";
  }
#ifdef STORMRUN_HAVE_NCCL
  int nccl = 0;
  ncclGetVersion(&nccl);
  os << "; NCCL " << nccl / 10000 << '.' << (nccl % 10000) / 100 << '.' << nccl % 100;
#else
  os << "; NCCL not built";
#endif
  return os.str();
#else
  return "CPU only (built without CUDA)";
#endif
}

}  // namespace

std::string version_text() {
  std::ostringstream os;
  os << "stormrun " << build::kVersion << "\n"
     << "  accelerator: " << accelerator() << "\n"
     << "  HDF5:        " << hdf5_library() << "\n"
     << "  MPI:         " << mpi_library() << "\n"
     << "  build:       " << build::kBuildType << (build::kSanitizers ? ", ASan+UBSan" : "")
     << ", checkpoint format " << kCheckpointFormatVersion << "\n";
  return os.str();
}

}  // namespace stormrun::app
