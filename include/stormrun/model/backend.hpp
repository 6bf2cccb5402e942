// Backend choice of the model kernels (part of the model interface, model.hpp). Kept apart
// from model.hpp so that CUDA sources can include it: nvcc's front end cannot parse value.hpp.
#pragma once

namespace stormrun::model {

/// Where kernels run. Auto picks CUDA when a GPU is usable, else the CPU reference (and
/// says so once).
enum class Backend { Cpu, Cuda };
enum class DeviceChoice { Auto, Cpu, Cuda };
/// Resolves a choice to a backend; std::runtime_error for Cuda when no GPU is usable.
Backend resolve_backend(DeviceChoice choice);
/// Number of usable CUDA devices (0 without a GPU or without a CUDA build).
int cuda_device_count();
/// True when this build has the CUDA path compiled in.
bool built_with_cuda();

}  // namespace stormrun::model
