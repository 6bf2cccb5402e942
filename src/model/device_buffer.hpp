// The one owner of device memory (move-only) and the CUDA error check of every stormrun
// CUDA call, for the model kernels (*.cu) and the runtime's NCCL gather. Plain C++ over the
// CUDA runtime API: include it only where CUDA is built.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace stormrun::model {

/// std::runtime_error naming `what` and CUDA's reason unless `err` is cudaSuccess.
inline void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(err) +
                             " (use --device cpu to run the CPU reference instead)");
}

/// Owns `count` elements of device memory; freed on destruction. Move-only.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    if (count > 0) cuda_check(cudaMalloc(&ptr_, count * sizeof(T)), "cudaMalloc");
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(DeviceBuffer&& other) noexcept : ptr_(other.ptr_), count_(other.count_) {
    other.ptr_ = nullptr;
    other.count_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      ptr_ = other.ptr_;
      count_ = other.count_;
      other.ptr_ = nullptr;
      other.count_ = 0;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  T* get() const { return ptr_; }
  std::size_t size() const { return count_; }
  /// At least `count` elements, keeping the allocation when it is large enough (contents
  /// are not kept when it grows): a buffer reused across calls of varying sizes.
  void reserve(std::size_t count) {
    if (count <= count_) return;
    release();  // before allocating: never hold both
    *this = DeviceBuffer(count);
  }
  void upload(const std::vector<T>& host) {
    if (host.size() != count_) throw std::invalid_argument("DeviceBuffer::upload: size mismatch");
    if (count_ > 0)
      cuda_check(cudaMemcpy(ptr_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice),
                 "cudaMemcpy (host to device)");
  }
  void download(std::vector<T>& host) const {
    host.resize(count_);
    if (count_ > 0)
      cuda_check(cudaMemcpy(host.data(), ptr_, count_ * sizeof(T), cudaMemcpyDeviceToHost),
                 "cudaMemcpy (device to host)");
  }

 private:
  void release() {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    count_ = 0;
  }
  T* ptr_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace stormrun::model
