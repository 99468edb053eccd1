#pragma once
// Bearer tokens: 256 random bits, shown to the client once as "fm_" + base64url, and
// stored only as a keyed BLAKE2b-256 digest (key: the token pepper), so a copy of the
// database does not let anyone act as a user.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace flexmarket::security {

using Key = std::array<std::uint8_t, 32>;

// A fresh token, e.g. "fm_Qm9v...": 3 + 43 characters.
std::string generate_token();

// Hex digest under which a token is stored and looked up.
std::string token_digest(std::string_view token, const Key& pepper);

// True when the text has the shape of a token (so that junk is refused before any lookup).
bool looks_like_token(std::string_view token);

std::string to_hex(const std::uint8_t* data, std::size_t size);
// Throws std::invalid_argument unless the text is exactly 64 hex digits.
Key key_from_hex(std::string_view hex);

}  // namespace flexmarket::security
