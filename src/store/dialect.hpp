#pragma once
// Everything that differs between SQLite and PostgreSQL SQL lives here.
//
// Schema files (migrations/*.sql) use these tokens:
//   {{id}}            an auto-assigned 64-bit primary key column type
//   {{real}}          a double-precision float
//   {{without_rowid}} after a table whose primary key is its whole identity (SQLite only)
// Queries use '?' placeholders, which PostgreSQL receives as $1, $2, ...
#include <string>
#include <string_view>

#include "store/database.hpp"

namespace flexmarket::store {

std::string translate_schema(std::string_view sql, Backend backend);
// Replaces each '?' outside quotes with $n.
std::string numbered_placeholders(std::string_view sql);

}  // namespace flexmarket::store
