#pragma once
// A version number of the platform's authentication state (users' passwords, roles and
// activity, revoked tokens), shared by every process on one database, so that a cache of
// verified tokens can be exact: an entry is good only while the version it was read at
// is still current. Changes come from the store's auth functions (Connection::
// note_auth_change), counted when their transaction commits.
//  - SQLite (one host): a counter in a small shared file beside the database
//    (`<db>-auth`), mapped into every process that opens it: a change is seen at once.
//  - PostgreSQL (many hosts): the change's transaction sends NOTIFY flexmarket_auth;
//    each process listens on its own connection. A change is seen at once in the process
//    that made it and within the notification's delivery (milliseconds) elsewhere; while
//    the listening connection is down, nothing may be cached.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace flexmarket::store {

// The PostgreSQL notification channel of auth changes.
inline constexpr const char* kAuthChannel = "flexmarket_auth";

class AuthEpoch {
 public:
  // `url` as given to Database::open; an in-memory or unknown database counts changes in
  // this process only.
  static std::unique_ptr<AuthEpoch> open(const std::string& url);
  virtual ~AuthEpoch() = default;

  // The current version, or nullopt while changes made elsewhere could go unseen.
  virtual std::optional<std::uint64_t> current() const = 0;
  // Called after this process committed a change.
  virtual void bump() = 0;
};

}  // namespace flexmarket::store
