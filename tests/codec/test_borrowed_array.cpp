// Arrays without payload copies on the commit path: npy_header + payload equals npy_encode,
// BlobSink::put_parts' default joins the parts, borrowing NdArrays (ArrayBorrowScope) view
// the source bytes yet compare, encode and decode exactly like owning ones.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "codec/codec_test_support.hpp"
#include "stormrun/codec.hpp"

using namespace stormrun;

namespace {

Array<double> sample_array() {
  Array<double> a;
  a.shape = {2, 3};
  a.data = {1.5, -2.0, 3.25, 0.0, 1e300, -7.0};
  return a;
}

std::vector<std::byte> concat(std::span<const std::byte> a, std::span<const std::byte> b) {
  std::vector<std::byte> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace

TEST_CASE("npy_header followed by the payload is exactly npy_encode") {
  const Value v = to_value(sample_array());
  const NdArray& nd = v.as<NdArray>();
  const auto header = npy_header(nd);
  CHECK(header.size() % 64 == 0);  // numpy aligns the payload to 64 bytes
  CHECK(concat(header, nd.bytes()) == npy_encode(nd));
  NdArray short_data = nd;
  short_data.data.pop_back();
  CHECK_THROWS_AS(npy_header(short_data), CodecError);
}

TEST_CASE("BlobSink::put_parts by default stores the parts joined, through put()") {
  test::MemoryBlobs blobs;
  const std::vector<std::byte> a{std::byte{1}, std::byte{2}};
  const std::vector<std::byte> b{std::byte{3}};
  const std::span<const std::byte> parts[] = {a, std::span<const std::byte>(), b};
  CHECK(blobs.put_parts("x.bin", parts) == "x.bin");
  CHECK(blobs.files.at("x.bin") ==
        std::vector<std::byte>{std::byte{1}, std::byte{2}, std::byte{3}});
}

TEST_CASE("to_value copies arrays, except inside an ArrayBorrowScope where it borrows") {
  const Array<double> source = sample_array();
  const Value owned = to_value(source);
  CHECK(owned.as<NdArray>().borrowed.empty());
  CHECK(owned.as<NdArray>().data.size() == 6 * sizeof(double));

  Value borrowed;
  {
    const detail::ArrayBorrowScope scope;
    borrowed = to_value(source);
  }
  const NdArray& nd = borrowed.as<NdArray>();
  CHECK(nd.data.empty());
  CHECK(static_cast<const void*>(nd.borrowed.data()) ==
        static_cast<const void*>(source.data.data()));
  CHECK(nd.bytes().size() == 6 * sizeof(double));
  // Same value, whether owned or borrowed; a different byte is a different value.
  CHECK(borrowed == owned);
  NdArray changed = owned.as<NdArray>();
  changed.data[0] ^= std::byte{1};
  CHECK_FALSE(Value(changed) == borrowed);
  // Decoding a borrowing array reads the borrowed bytes.
  CHECK(from_value<Array<double>>(borrowed, "b") == source);
  // The scope ended: conversions copy again.
  CHECK(to_value(source).as<NdArray>().borrowed.empty());

  // Bool arrays have no bytes to borrow (std::vector<bool>) and are always copied.
  Array<bool> flags{{3}, {true, false, true}};
  const detail::ArrayBorrowScope scope;
  const Value bools = to_value(flags);
  CHECK(bools.as<NdArray>().borrowed.empty());
  CHECK(from_value<Array<bool>>(bools, "f") == flags);
}

TEST_CASE("a borrowing array encodes to the same JSON and .npy bytes as an owning one") {
  const Array<double> source = sample_array();
  test::MemoryBlobs owned_blobs;
  test::MemoryBlobs borrowed_blobs;
  const Value owned = Value(Value::Map{{"h", to_value(source)}});
  Value borrowed;
  {
    const detail::ArrayBorrowScope scope;
    borrowed = Value(Value::Map{{"h", to_value(source)}});
  }
  const auto owned_json = encode_value(owned, &owned_blobs, "s/");
  const auto borrowed_json = encode_value(borrowed, &borrowed_blobs, "s/");
  CHECK(owned_json == borrowed_json);
  REQUIRE(owned_blobs.files.size() == 1);
  CHECK(borrowed_blobs.files == owned_blobs.files);
  CHECK(owned_blobs.files.begin()->second ==
        npy_encode(owned.as<Value::Map>().at("h").as<NdArray>()));
  CHECK(decode_value(borrowed_json, &borrowed_blobs, "s") == owned);
}
