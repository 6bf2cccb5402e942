// Gaussian perturbation: the CPU reference of the noise and the component that applies it
// (key derivation, amplitudes, checkpoint state). The CUDA kernel is in perturbation.cu.
#include "stormrun/model/perturbation.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "perturbation_kernels.hpp"

namespace stormrun::model {
namespace detail {

void add_gaussian_noise_cpu(std::span<double> data, std::int64_t points,
                            std::span<const FieldNoiseJob> jobs) {
  for (const FieldNoiseJob& job : jobs) {
    double* field = data.data() + job.offset;
    for (std::int64_t p = 0; p < points; p += 2) {
      const noise::GaussianPair z =
          noise::gaussian_pair(job.key, std::uint32_t(p >> 1), job.step, job.variable_id);
      field[p] = field[p] + job.amplitude * z.z0;
      if (p + 1 < points) field[p + 1] = field[p + 1] + job.amplitude * z.z1;
    }
  }
}

#if !defined(STORMRUN_HAVE_CUDA)
void add_gaussian_noise_cuda(std::span<double>, std::int64_t, std::span<const FieldNoiseJob>) {
  throw std::runtime_error(
      "the Gaussian perturbation was asked to run on CUDA, but this stormrun was built without "
      "CUDA; use --device cpu or rebuild with the CUDA toolkit (STORMRUN_CUDA=ON)");
}
#endif

}  // namespace detail

namespace {

// Philox counters hold the point pair index and the step in 32 bits each.
constexpr std::int64_t kMaxPoints = std::int64_t(1) << 33;

void run_jobs(Backend backend, std::span<double> data, std::int64_t points,
              std::span<const detail::FieldNoiseJob> jobs) {
  if (backend == Backend::Cuda) {
    if (cuda_device_count() == 0)
      throw std::runtime_error(
          "the Gaussian perturbation was asked to run on CUDA, but no GPU is usable; use "
          "--device cpu or auto");
    detail::add_gaussian_noise_cuda(data, points, jobs);
  } else {
    detail::add_gaussian_noise_cpu(data, points, jobs);
  }
}

detail::FieldNoiseJob make_job(const NoiseKey& key, double amplitude, std::int64_t offset) {
  if (key.step < 0 || key.step > std::int64_t(UINT32_MAX))
    throw std::invalid_argument("noise step " + std::to_string(key.step) +
                                " is outside 0..4294967295");
  if (key.member < 0)
    throw std::invalid_argument("noise member index " + std::to_string(key.member) +
                                " is negative");
  return detail::FieldNoiseJob{noise::stream_key(key.seed, key.member, key.start_time_ns),
                               std::uint32_t(key.step), noise::variable_id(key.variable), amplitude,
                               offset};
}

std::string amplitudes_text(const std::map<std::string, double>& amplitudes) {
  std::ostringstream out;
  out.precision(17);
  out << "{";
  bool first = true;
  for (const auto& [name, value] : amplitudes) {
    out << (first ? "" : ", ") << name << ": " << value;
    first = false;
  }
  out << "}";
  return out.str();
}

}  // namespace

std::map<std::string, double> default_noise_amplitudes(double scale) {
  return {{"h", 1.0 * scale}, {"u", 0.1 * scale}, {"v", 0.1 * scale}};
}

std::vector<double> gaussian_noise(const NoiseKey& key, std::int64_t count, Backend backend) {
  if (count < 0 || count > kMaxPoints)
    throw std::invalid_argument("noise sample count " + std::to_string(count) +
                                " is outside 0..2^33");
  std::vector<double> out(std::size_t(count), 0.0);
  const detail::FieldNoiseJob job = make_job(key, 1.0, 0);
  if (count > 0) run_jobs(backend, out, count, std::span(&job, 1));
  return out;
}

GaussianPerturbation::GaussianPerturbation(GaussianPerturbationOptions options)
    : options_(std::move(options)) {
  for (const auto& [name, amplitude] : options_.amplitudes) {
    if (!std::isfinite(amplitude) || amplitude < 0)
      throw std::invalid_argument("noise amplitude of variable '" + name + "' is " +
                                  std::to_string(amplitude) +
                                  "; it must be a finite standard deviation >= 0");
  }
}

void GaussianPerturbation::bind_checkpoint(Checkpoint& checkpoint) {
  binding_.reset();  // release the identity before binding it again
  binding_.emplace(checkpoint.bind(
      PerturbationState{kGaussianNoiseGenerator, options_.seed, options_.amplitudes},
      /*min_level=*/1));
}

void GaussianPerturbation::check_restored_key() const {
  if (!binding_ || !binding_->enabled() || !binding_->loaded()) return;
  const PerturbationState& saved = **binding_;
  auto refuse = [](const std::string& what) {
    return CheckpointError("checkpoint state stormrun.model.PerturbationState: " + what +
                           "; resume with the configuration that wrote the checkpoint, or "
                           "use another --checkpoint-dir");
  };
  if (saved.generator != kGaussianNoiseGenerator)
    throw refuse("the checkpoint's noise was drawn by '" + saved.generator +
                 "', this stormrun draws it by '" + kGaussianNoiseGenerator + "'");
  if (saved.seed != options_.seed)
    throw refuse("the checkpoint was written with --seed " + std::to_string(saved.seed) +
                 ", this run has --seed " + std::to_string(options_.seed));
  if (saved.amplitudes != options_.amplitudes)
    throw refuse("the checkpoint was written with noise amplitudes " +
                 amplitudes_text(saved.amplitudes) + ", this run has " +
                 amplitudes_text(options_.amplitudes));
}

void GaussianPerturbation::apply(FieldBatch& batch, const std::vector<std::int64_t>& members,
                                 TimePoint start_time) const {
  check_restored_key();
  if (std::int64_t(members.size()) != batch.members)
    throw std::invalid_argument("Gaussian perturbation: " + std::to_string(members.size()) +
                                " member indices for a batch of " + std::to_string(batch.members) +
                                " members");
  for (const auto& [name, amplitude] : options_.amplitudes) {
    bool found = false;
    for (const auto& variable : batch.variables)
      found = found || variable == name;
    if (!found)
      throw std::invalid_argument("noise amplitude given for variable '" + name +
                                  "', which the model does not have; remove it");
  }
  const std::int64_t points = batch.grid.points();
  if (points > kMaxPoints)
    throw std::invalid_argument("grid of " + std::to_string(points) +
                                " points is too large for the noise counter (2^33)");
  if (batch.data.size() != std::size_t(batch.members) * batch.variables.size() * points)
    throw std::invalid_argument(
        "Gaussian perturbation: batch holds " + std::to_string(batch.data.size()) +
        " values, its shape needs " +
        std::to_string(batch.members * std::int64_t(batch.variables.size()) * points));

  const std::int64_t start_ns = start_time.time_since_epoch().count();
  std::vector<detail::FieldNoiseJob> jobs;
  for (std::int64_t m = 0; m < batch.members; ++m) {
    for (std::size_t v = 0; v < batch.variables.size(); ++v) {
      const auto amplitude = options_.amplitudes.find(batch.variables[v]);
      if (amplitude == options_.amplitudes.end() || amplitude->second == 0.0) continue;
      const NoiseKey key{options_.seed, members[std::size_t(m)], start_ns, 0, batch.variables[v]};
      const std::int64_t offset =
          (m * std::int64_t(batch.variables.size()) + std::int64_t(v)) * points;
      jobs.push_back(make_job(key, amplitude->second, offset));
    }
  }
  if (!jobs.empty()) run_jobs(options_.backend, batch.data, points, jobs);
}

}  // namespace stormrun::model
