#pragma once
// Monthly partitions of the beliefs table on PostgreSQL (migration 0014): one table per
// calendar month (UTC) of event_start, named beliefs_yYYYYmMM. Ingest creates a missing
// month before writing to it, so there is no default partition (which would cost the
// prepared reads their ordered scan, see docs/data-model.md). Retention is dropping a
// month table; vacuum works per month. SQLite keeps one plain table: every function here
// does nothing there.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "store/database.hpp"

namespace flexmarket::store::partitions {

// Months counted from January 1970 (0), UTC; negative before.
int month_of(std::int64_t micros);
std::int64_t month_start(int month);
// "beliefs_y2026m01".
std::string table_name(int month);
// Month tables exist for years 1..9999 only (the API takes 1900..2199).
bool in_range(int month);

// True when beliefs is a partitioned table (PostgreSQL from migration 0014 on).
bool partitioned(Connection& c, Backend backend);

// Creates the partitions of `months` that are missing (moving their rows out of a default
// partition named beliefs_default, should an operator have added one). Safe inside or
// outside a transaction and from many processes at once: creators take turns on a lock that readers and writers of beliefs do
// not wait for. Returns the tables this call found missing.
std::vector<std::string> ensure_months(Connection& c, Backend backend, std::span<const int> months);

// The months of `now` and `months_ahead` after it (and those with rows in a default
// partition, if there is one). Run at startup and about hourly, so that ingest rarely has
// to create a month itself.
std::vector<std::string> ensure_ahead(Connection& c, Backend backend, Instant now, int months_ahead = 3);

struct PartitionInfo {
  std::string name;
  std::int64_t from_us = 0;  // inclusive; for the default partition 0
  std::int64_t to_us = 0;    // exclusive
  bool is_default = false;
};
// The partitions of beliefs by their start (the default one last); empty on SQLite.
std::vector<PartitionInfo> list(Connection& c, Backend backend);

}  // namespace flexmarket::store::partitions
