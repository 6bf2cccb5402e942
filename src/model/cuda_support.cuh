// CUDA helpers of the model kernels: the device copy of the shallow-water tables
// (swe_geometry.hpp) and launch sizes; error checks and device memory: device_buffer.hpp.
#pragma once

#include "device_buffer.hpp"
#include "swe_geometry.hpp"

namespace stormrun::model {

/// The geometry tables uploaded once; view() points the shared per-point functions at them.
class SweDeviceTables {
 public:
  explicit SweDeviceTables(const SweGeometry& g)
      : host_(g.host_view()),
        inv_acos_(g.inv_acos),
        inv_dx_(g.inv_dx),
        cos_ext_(g.cos_ext),
        cos_face_(g.cos_face),
        ew_metric_(g.ew_metric),
        ns_metric_(g.ns_metric),
        coriolis_(g.coriolis),
        hd_zonal_(g.hd_zonal),
        hd_merid_(g.hd_merid),
        filter_row_(g.filter_row),
        filter_pair_row_(g.filter_pair_row),
        filter_response_(g.filter_response),
        fft_tw_re_(g.fft_tw_re),
        fft_tw_im_(g.fft_tw_im) {}

  SweView view() const {
    SweView v = host_;
    v.inv_acos = inv_acos_.get();
    v.inv_dx = inv_dx_.get();
    v.cos_ext = cos_ext_.get();
    v.cos_face = cos_face_.get();
    v.ew_metric = ew_metric_.get();
    v.ns_metric = ns_metric_.get();
    v.coriolis = coriolis_.get();
    v.hd_zonal = hd_zonal_.get();
    v.hd_merid = hd_merid_.get();
    v.filter_row = filter_row_.get();
    v.filter_pair_row = filter_pair_row_.get();
    v.filter_response = filter_response_.get();
    v.fft_tw_re = fft_tw_re_.get();
    v.fft_tw_im = fft_tw_im_.get();
    return v;
  }

 private:
  SweView host_;  // scalars only are used from it
  DeviceBuffer<double> inv_acos_, inv_dx_, cos_ext_, cos_face_, ew_metric_, ns_metric_, coriolis_;
  DeviceBuffer<double> hd_zonal_, hd_merid_;
  DeviceBuffer<int> filter_row_, filter_pair_row_;
  DeviceBuffer<double> filter_response_, fft_tw_re_, fft_tw_im_;
};

inline constexpr int kThreadsPerBlock = 256;
inline unsigned blocks_for(std::size_t count) {
  return static_cast<unsigned>((count + kThreadsPerBlock - 1) / kThreadsPerBlock);
}

}  // namespace stormrun::model
