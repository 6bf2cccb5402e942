// Grid and FieldBatch of the model interface (include/stormrun/model/model.hpp).
#include <charconv>
#include <stdexcept>
#include <string>

#include "stormrun/model/model.hpp"

namespace stormrun::model {

std::vector<double> Grid::lat_degrees() const {
  std::vector<double> lat(static_cast<std::size_t>(nlat));
  for (int j = 0; j < nlat; ++j)
    lat[j] = -90.0 + (j + 0.5) * 180.0 / nlat;
  return lat;
}

std::vector<double> Grid::lon_degrees() const {
  std::vector<double> lon(static_cast<std::size_t>(nlon));
  for (int i = 0; i < nlon; ++i)
    lon[i] = i * 360.0 / nlon;
  return lon;
}

Grid Grid::parse(const std::string& text) {
  auto fail = [&](const std::string& why) {
    return std::invalid_argument("grid '" + text + "' is not valid: " + why +
                                 "; write NLATxNLON with positive integers, e.g. 64x128");
  };
  const auto x = text.find('x');
  if (x == std::string::npos || x == 0 || x + 1 == text.size()) throw fail("no 'x' between sizes");
  auto parse_int = [&](std::string_view part, const char* what) {
    int value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (ec != std::errc() || end != part.data() + part.size())
      throw fail(std::string(what) + " '" + std::string(part) + "' is not an integer");
    if (value <= 0) throw fail(std::string(what) + " must be positive");
    return value;
  };
  const std::string_view view(text);
  Grid grid;
  grid.nlat = parse_int(view.substr(0, x), "NLAT");
  grid.nlon = parse_int(view.substr(x + 1), "NLON");
  return grid;
}

FieldBatch::FieldBatch(Grid g, std::vector<std::string> vars, std::int64_t nmembers)
    : grid(g), variables(std::move(vars)), members(nmembers) {
  if (nmembers < 0)
    throw std::invalid_argument("FieldBatch: member count " + std::to_string(nmembers) +
                                " is negative");
  data.assign(static_cast<std::size_t>(nmembers) * variables.size() *
                  static_cast<std::size_t>(grid.points()),
              0.0);
}

std::span<double> FieldBatch::field(std::int64_t member, std::size_t variable) {
  const auto n = static_cast<std::size_t>(grid.points());
  return std::span<double>(data).subspan(
      (static_cast<std::size_t>(member) * variables.size() + variable) * n, n);
}

std::span<const double> FieldBatch::field(std::int64_t member, std::size_t variable) const {
  const auto n = static_cast<std::size_t>(grid.points());
  return std::span<const double>(data).subspan(
      (static_cast<std::size_t>(member) * variables.size() + variable) * n, n);
}

std::size_t FieldBatch::variable_index(const std::string& name) const {
  for (std::size_t k = 0; k < variables.size(); ++k)
    if (variables[k] == name) return k;
  std::string have;
  for (const auto& v : variables)
    have += (have.empty() ? "" : ",") + v;
  throw std::out_of_range("variable '" + name + "' is not in this field batch (it holds " + have +
                          ")");
}

}  // namespace stormrun::model
