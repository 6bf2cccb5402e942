// .npy encoding: byte-identical to numpy.save, loaded by numpy, numpy files decoded, and
// every malformed or unsafe input refused.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "codec/codec_test_support.hpp"
#include "stormrun/codec.hpp"

using namespace stormrun;
using stormrun::test::as_bytes_vector;

namespace {

NdArray make_array(DType dtype, std::vector<std::int64_t> shape, std::vector<std::byte> data) {
  NdArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.data = std::move(data);
  return a;
}

std::vector<std::byte> bytes_of(std::string_view text) {
  std::vector<std::byte> out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

/// A hand-made v1.0 file with the given header dict text and payload.
std::vector<std::byte> npy_with_header(std::string header, std::size_t payload_bytes) {
  header += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() & 0xFF);
  file += static_cast<char>(header.size() >> 8);
  file += header;
  file.append(payload_bytes, '\0');
  return bytes_of(file);
}

}  // namespace

TEST_CASE("npy_encode: header layout follows numpy (64-byte aligned, v1.0)") {
  const auto a = make_array(DType::Float64, {2, 3}, as_bytes_vector(std::vector<double>(6, 1.5)));
  const auto bytes = npy_encode(a);
  const std::string head(reinterpret_cast<const char*>(bytes.data()), 10);
  CHECK(head.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header_len =
      std::to_integer<std::size_t>(bytes[8]) | (std::to_integer<std::size_t>(bytes[9]) << 8);
  CHECK((10 + header_len) % 64 == 0);
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + 10, header_len);
  CHECK(header.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"));
  CHECK(header.back() == '\n');
  CHECK(bytes.size() == 10 + header_len + 48);
  CHECK(npy_decode(bytes, "x.npy") == a);
}

TEST_CASE("npy round trip: every dtype, scalars, 1-d, zero-size") {
  const std::vector<std::pair<DType, std::vector<std::int64_t>>> cases = {
      {DType::Bool, {3}},     {DType::Int8, {2, 2}}, {DType::Int16, {}},      {DType::Int32, {4}},
      {DType::Int64, {1, 1}}, {DType::UInt8, {5}},   {DType::UInt16, {2}},    {DType::UInt32, {3}},
      {DType::UInt64, {2}},   {DType::Float32, {0}}, {DType::Float64, {0, 7}}};
  for (const auto& [dtype, shape] : cases) {
    const std::string descr = dtype_descr(dtype);  // clang 14 cannot capture a binding
    CAPTURE(descr);
    std::int64_t count = 1;
    for (const auto extent : shape)
      count *= extent;
    std::vector<std::byte> data(static_cast<std::size_t>(count) * dtype_size(dtype));
    for (std::size_t i = 0; i < data.size(); ++i) {
      data[i] = std::byte(dtype == DType::Bool ? i % 2 : (i * 37 + 11) & 0xFF);
    }
    const auto a = make_array(dtype, shape, data);
    CHECK(npy_decode(npy_encode(a), "case.npy") == a);
  }
}

TEST_CASE("npy written by npy_encode is byte-identical to numpy.save and loads in numpy") {
  test::TempDir dir;
  std::vector<double> doubles = {0.1,
                                 -0.0,
                                 std::numeric_limits<double>::denorm_min(),
                                 std::numeric_limits<double>::max(),
                                 std::numeric_limits<double>::lowest(),
                                 std::numeric_limits<double>::infinity()};
  test::write_bytes(dir.path() / "f8.npy",
                    npy_encode(make_array(DType::Float64, {2, 3}, as_bytes_vector(doubles))));
  std::vector<std::int32_t> ints = {std::numeric_limits<std::int32_t>::min(), -1, 0, 7};
  test::write_bytes(dir.path() / "i4.npy",
                    npy_encode(make_array(DType::Int32, {4}, as_bytes_vector(ints))));
  std::vector<std::uint8_t> flags = {1, 0, 1};
  test::write_bytes(dir.path() / "b1.npy",
                    npy_encode(make_array(DType::Bool, {3}, as_bytes_vector(flags))));
  test::write_bytes(dir.path() / "empty.npy", npy_encode(make_array(DType::Float32, {0, 5}, {})));
  std::vector<std::uint64_t> big = {std::numeric_limits<std::uint64_t>::max()};
  test::write_bytes(dir.path() / "scalar.npy",
                    npy_encode(make_array(DType::UInt64, {}, as_bytes_vector(big))));

  const std::string script =
      "import io, sys, numpy as np\n"
      "d = sys.argv[0].rsplit('/', 1)[0]\n"
      "def same_as_numpy_save(name, arr):\n"
      "    buf = io.BytesIO(); np.save(buf, arr)\n"
      "    mine = open(d + '/' + name, 'rb').read()\n"
      "    assert buf.getvalue() == mine, (name, buf.getvalue()[:128], mine[:128])\n"
      "f8 = np.load(d + '/f8.npy', allow_pickle=False)\n"
      "want = np.array([0.1, -0.0, 5e-324, 1.7976931348623157e308,\n"
      "                 -1.7976931348623157e308, np.inf]).reshape(2, 3)\n"
      "assert f8.dtype == np.dtype('<f8') and f8.shape == (2, 3)\n"
      "assert f8.tobytes() == want.tobytes()\n"
      "same_as_numpy_save('f8.npy', want)\n"
      "i4 = np.load(d + '/i4.npy', allow_pickle=False)\n"
      "assert i4.dtype == np.int32 and i4.tolist() == [-2**31, -1, 0, 7]\n"
      "same_as_numpy_save('i4.npy', i4)\n"
      "b1 = np.load(d + '/b1.npy', allow_pickle=False)\n"
      "assert b1.dtype == np.bool_ and b1.tolist() == [True, False, True]\n"
      "same_as_numpy_save('b1.npy', b1)\n"
      "e = np.load(d + '/empty.npy', allow_pickle=False)\n"
      "assert e.dtype == np.float32 and e.shape == (0, 5)\n"
      "same_as_numpy_save('empty.npy', e)\n"
      "s = np.load(d + '/scalar.npy', allow_pickle=False)\n"
      "assert s.dtype == np.uint64 and s.shape == () and int(s) == 2**64 - 1\n"
      "same_as_numpy_save('scalar.npy', s)\n"
      "print('ok')\n";
  const auto result = test::run_python(dir.path(), script);
  INFO(result.output);
  CHECK(result.status == 0);
  CHECK(result.output.find("ok") != std::string::npos);
}

TEST_CASE("npy written by numpy is decoded by npy_decode") {
  test::TempDir dir;
  const std::string script =
      "import sys, numpy as np\n"
      "d = sys.argv[0].rsplit('/', 1)[0]\n"
      "np.save(d + '/a.npy', np.arange(12, dtype='<f4').reshape(3, 4) / 3)\n"
      "np.save(d + '/b.npy', np.array([-5, 2**40], dtype='<i8'))\n"
      "np.save(d + '/c.npy', np.zeros((2, 0, 3), dtype='<u2'))\n"
      "np.save(d + '/f.npy', np.asfortranarray(np.ones((2, 3))))\n"
      "np.save(d + '/be.npy', np.ones(3, dtype='>f8'))\n"
      "np.save(d + '/obj.npy', np.array([{'a': 1}], dtype=object), allow_pickle=True)\n"
      "np.save(d + '/rec.npy', np.zeros(2, dtype=[('x', '<f8'), ('y', '<i4')]))\n"
      "np.lib.format.write_array(open(d + '/v2.npy', 'wb'), np.array([1.5, 2.5]), version=(2, "
      "0))\n";
  const auto result = test::run_python(dir.path(), script);
  INFO(result.output);
  REQUIRE(result.status == 0);

  const auto a = npy_decode(test::read_bytes(dir.path() / "a.npy"), "a.npy");
  CHECK(a.dtype == DType::Float32);
  CHECK(a.shape == std::vector<std::int64_t>{3, 4});
  REQUIRE(a.data.size() == 48);
  std::vector<float> floats(12);
  std::memcpy(floats.data(), a.data.data(), 48);
  for (int i = 0; i < 12; ++i)
    CHECK(floats[i] == static_cast<float>(i) / 3.0f);

  const auto b = npy_decode(test::read_bytes(dir.path() / "b.npy"), "b.npy");
  CHECK(b.dtype == DType::Int64);
  std::int64_t ints[2];
  std::memcpy(ints, b.data.data(), 16);
  CHECK(ints[0] == -5);
  CHECK(ints[1] == (std::int64_t{1} << 40));

  const auto c = npy_decode(test::read_bytes(dir.path() / "c.npy"), "c.npy");
  CHECK(c.dtype == DType::UInt16);
  CHECK(c.shape == std::vector<std::int64_t>{2, 0, 3});
  CHECK(c.data.empty());

  const auto v2 = npy_decode(test::read_bytes(dir.path() / "v2.npy"), "v2.npy");
  CHECK(v2.shape == std::vector<std::int64_t>{2});

  CHECK_THROWS_WITH_AS(npy_decode(test::read_bytes(dir.path() / "f.npy"), "f.npy"),
                       doctest::Contains("f.npy: not a valid .npy file: Fortran"), CodecError);
  CHECK_THROWS_WITH_AS(npy_decode(test::read_bytes(dir.path() / "be.npy"), "be.npy"),
                       doctest::Contains("big-endian"), CodecError);
  CHECK_THROWS_WITH_AS(npy_decode(test::read_bytes(dir.path() / "obj.npy"), "obj.npy"),
                       doctest::Contains("object"), CodecError);
  CHECK_THROWS_WITH_AS(npy_decode(test::read_bytes(dir.path() / "rec.npy"), "rec.npy"),
                       doctest::Contains("structured"), CodecError);
}

TEST_CASE("npy_decode refuses bad inputs, naming the file") {
  const auto good = npy_encode(make_array(DType::Int16, {3}, std::vector<std::byte>(6)));

  SUBCASE("bad magic") {
    auto bytes = good;
    bytes[1] = std::byte{'X'};
    CHECK_THROWS_WITH_AS(npy_decode(bytes, "m.npy"),
                         doctest::Contains("m.npy: not a valid .npy file: missing"), CodecError);
  }
  SUBCASE("too short") {
    CHECK_THROWS_AS(npy_decode(std::span(good).first(5), "s.npy"), CodecError);
    CHECK_THROWS_AS(npy_decode(std::span<const std::byte>(), "s.npy"), CodecError);
  }
  SUBCASE("truncated header") {
    CHECK_THROWS_WITH_AS(npy_decode(std::span(good).first(40), "h.npy"),
                         doctest::Contains("truncated header"), CodecError);
  }
  SUBCASE("truncated data") {
    CHECK_THROWS_WITH_AS(npy_decode(std::span(good).first(good.size() - 1), "d.npy"),
                         doctest::Contains("(truncated)"), CodecError);
  }
  SUBCASE("trailing data") {
    auto bytes = good;
    bytes.push_back(std::byte{0});
    CHECK_THROWS_WITH_AS(npy_decode(bytes, "t.npy"), doctest::Contains("trailing"), CodecError);
  }
  SUBCASE("unsupported version") {
    auto bytes = good;
    bytes[6] = std::byte{9};
    CHECK_THROWS_WITH_AS(npy_decode(bytes, "v.npy"), doctest::Contains("version 9.0"), CodecError);
  }
  SUBCASE("header is not a literal dict") {
    const std::vector<std::string> headers = {
        "__import__('os').system('true')",
        "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), 'extra': 1, }",
        "{'descr': '<i2', 'fortran_order': False}",
        "{'descr': '<i2', 'fortran_order': 0, 'shape': (3,), }",
        "{'descr': '<i2', 'fortran_order': False, 'shape': 3, }",
        "{'descr': '<i2', 'fortran_order': False, 'shape': (-3,), }",
        "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), } junk",
        "{'descr': '<i2', 'descr': '<i2', 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '\\x3ci2', 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '<i2' 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '<i2', 'fortran_order': False, 'shape': (99999999999999999999,), }",
        "{'descr': '<i2', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
    };
    for (const auto& header : headers) {
      CAPTURE(header);
      CHECK_THROWS_WITH_AS(npy_decode(npy_with_header(header, 6), "hdr.npy"),
                           doctest::Contains("hdr.npy"), CodecError);
    }
    // The hand-made helper itself produces valid files.
    CHECK(
        npy_decode(npy_with_header("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", 6),
                   "ok.npy")
            .shape == std::vector<std::int64_t>{3});
    CHECK(npy_decode(npy_with_header(
                         "{\"shape\": (3, ), \"fortran_order\": False, \"descr\": \"<i2\"}", 6),
                     "ok.npy")
              .dtype == DType::Int16);
  }
  SUBCASE("object dtype from a hand-made header") {
    CHECK_THROWS_WITH_AS(
        npy_decode(npy_with_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8),
                   "o.npy"),
        doctest::Contains("object"), CodecError);
  }
  SUBCASE("encoder refuses data that does not match the shape") {
    CHECK_THROWS_WITH_AS(npy_encode(make_array(DType::Float64, {2}, std::vector<std::byte>(15))),
                         doctest::Contains("needs 16 bytes"), CodecError);
    CHECK_THROWS_AS(npy_encode(make_array(DType::Float64, {-1}, {})), CodecError);
  }
}
