#include "store/portfolios_repository.hpp"

namespace flexmarket::store::portfolios {

namespace {

constexpr const char* kPortfolioColumns =
    "id, account_id, market_id, name, meter_sensor_id, price_sensor_id, price_steps, horizon_us, notice_us, "
    "fee_percent, paused, created_at, sharing";

PortfolioRecord portfolio_from(const Row& r) {
  PortfolioRecord p;
  p.id = r.int64(0);
  p.account_id = r.int64(1);
  p.market_id = r.int64(2);
  p.name = r.text(3);
  p.meter_sensor_id = r.int64(4);
  p.price_sensor_id = r.opt_int64(5);
  p.price_steps = static_cast<int>(r.int64(6));
  p.horizon = std::chrono::microseconds(r.int64(7));
  p.notice = std::chrono::microseconds(r.int64(8));
  p.fee_percent = r.real(9);
  p.paused = r.int64(10) != 0;
  p.created_at = from_micros(r.int64(11));
  p.sharing = r.text(12);
  return p;
}

std::vector<PortfolioRecord> portfolios_of(const Result& res) {
  std::vector<PortfolioRecord> out;
  for (const auto& row : res.rows) out.push_back(portfolio_from(Row(row)));
  return out;
}

constexpr const char* kMemberColumns =
    "portfolio_id, asset_id, state, settings, invited_at, accepted_at, leaves_at, soc_kwh, soc_at";

MemberRecord member_from(const Row& r) {
  MemberRecord m;
  m.portfolio_id = r.int64(0);
  m.asset_id = r.int64(1);
  m.state = r.text(2);
  m.settings = r.text(3);
  m.invited_at = from_micros(r.int64(4));
  if (!r.is_null(5)) m.accepted_at = from_micros(r.int64(5));
  if (!r.is_null(6)) m.leaves_at = from_micros(r.int64(6));
  if (!r.is_null(7)) m.soc_kwh = r.real(7);
  if (!r.is_null(8)) m.soc_at = from_micros(r.int64(8));
  return m;
}

Value opt_time(const std::optional<Instant>& t) { return t ? Value(to_micros(*t)) : Value(nullptr); }

constexpr const char* kStepColumns = "portfolio_id, slot_start, kind, job_id, state, detail, created_at, updated_at";

StepRecord step_from(const Row& r) {
  StepRecord s;
  s.portfolio_id = r.int64(0);
  s.slot_start = from_micros(r.int64(1));
  s.kind = r.text(2);
  s.job_id = r.opt_int64(3);
  s.state = r.text(4);
  if (!r.is_null(5)) s.detail = r.text(5);
  s.created_at = from_micros(r.int64(6));
  s.updated_at = from_micros(r.int64(7));
  return s;
}

}  // namespace

std::int64_t insert(Connection& c, const PortfolioRecord& p) {
  return c.query("INSERT INTO portfolios (account_id, market_id, name, meter_sensor_id, price_sensor_id, price_steps, "
                 "horizon_us, notice_us, fee_percent, paused, created_at, sharing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                 "RETURNING id",
                 {p.account_id, p.market_id, p.name, p.meter_sensor_id,
                  p.price_sensor_id ? Value(*p.price_sensor_id) : Value(nullptr), static_cast<std::int64_t>(p.price_steps),
                  static_cast<std::int64_t>(p.horizon.count()), static_cast<std::int64_t>(p.notice.count()), p.fee_percent,
                  static_cast<std::int64_t>(p.paused ? 1 : 0), to_micros(p.created_at), p.sharing})[0]
      .int64(0);
}

void update(Connection& c, const PortfolioRecord& p) {
  c.query("UPDATE portfolios SET name = ?, price_sensor_id = ?, price_steps = ?, horizon_us = ?, notice_us = ?, "
          "fee_percent = ?, paused = ?, sharing = ? WHERE id = ?",
          {p.name, p.price_sensor_id ? Value(*p.price_sensor_id) : Value(nullptr), static_cast<std::int64_t>(p.price_steps),
           static_cast<std::int64_t>(p.horizon.count()), static_cast<std::int64_t>(p.notice.count()), p.fee_percent,
           static_cast<std::int64_t>(p.paused ? 1 : 0), p.sharing, p.id});
}

std::optional<PortfolioRecord> find(Connection& c, std::int64_t id) {
  auto r = c.query(std::string("SELECT ") + kPortfolioColumns + " FROM portfolios WHERE id = ?", {id});
  if (r.rows.empty()) return std::nullopt;
  return portfolio_from(r[0]);
}

std::optional<PortfolioRecord> find_by_meter(Connection& c, std::int64_t meter_sensor_id) {
  auto r = c.query(std::string("SELECT ") + kPortfolioColumns + " FROM portfolios WHERE meter_sensor_id = ?", {meter_sensor_id});
  if (r.rows.empty()) return std::nullopt;
  return portfolio_from(r[0]);
}

std::vector<PortfolioRecord> list(Connection& c, std::int64_t account_id) {
  if (account_id == 0) return portfolios_of(c.query(std::string("SELECT ") + kPortfolioColumns + " FROM portfolios ORDER BY id"));
  return portfolios_of(
      c.query(std::string("SELECT ") + kPortfolioColumns + " FROM portfolios WHERE account_id = ? ORDER BY id", {account_id}));
}

std::vector<PortfolioRecord> with_member_account(Connection& c, std::int64_t account_id) {
  return portfolios_of(c.query(std::string("SELECT ") + kPortfolioColumns +
                                   " FROM portfolios WHERE id IN (SELECT m.portfolio_id FROM portfolio_members m JOIN assets a "
                                   "ON a.id = m.asset_id WHERE a.account_id = ?) ORDER BY id",
                               {account_id}));
}

void remove(Connection& c, std::int64_t id) {
  for (const char* table : {"portfolio_fees", "portfolio_shares", "portfolio_steps", "portfolio_members"}) {
    c.query(std::string("DELETE FROM ") + table + " WHERE portfolio_id = ?", {id});
  }
  c.query("DELETE FROM portfolios WHERE id = ?", {id});
}

std::vector<MemberRecord> members(Connection& c, std::int64_t portfolio_id) {
  std::vector<MemberRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kMemberColumns +
                                     " FROM portfolio_members WHERE portfolio_id = ? ORDER BY asset_id",
                                 {portfolio_id})
                             .rows) {
    out.push_back(member_from(Row(row)));
  }
  return out;
}

std::optional<MemberRecord> member(Connection& c, std::int64_t portfolio_id, std::int64_t asset_id) {
  auto r = c.query(std::string("SELECT ") + kMemberColumns + " FROM portfolio_members WHERE portfolio_id = ? AND asset_id = ?",
                   {portfolio_id, asset_id});
  if (r.rows.empty()) return std::nullopt;
  return member_from(r[0]);
}

void save_member(Connection& c, const MemberRecord& m) {
  c.query("DELETE FROM portfolio_members WHERE portfolio_id = ? AND asset_id = ?", {m.portfolio_id, m.asset_id});
  c.query(std::string("INSERT INTO portfolio_members (") + kMemberColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {m.portfolio_id, m.asset_id, m.state, m.settings, to_micros(m.invited_at), opt_time(m.accepted_at),
           opt_time(m.leaves_at), m.soc_kwh ? Value(*m.soc_kwh) : Value(nullptr), opt_time(m.soc_at)});
}

void remove_member(Connection& c, std::int64_t portfolio_id, std::int64_t asset_id) {
  c.query("DELETE FROM portfolio_members WHERE portfolio_id = ? AND asset_id = ?", {portfolio_id, asset_id});
}

void set_soc(Connection& c, std::int64_t portfolio_id, std::int64_t asset_id, double soc_kwh, Instant at) {
  c.query("UPDATE portfolio_members SET soc_kwh = ?, soc_at = ? WHERE portfolio_id = ? AND asset_id = ?",
          {soc_kwh, to_micros(at), portfolio_id, asset_id});
}

bool manages_asset(Connection& c, std::int64_t account_id, std::int64_t asset_id, Instant now) {
  return !c.query("SELECT 1 FROM portfolio_members m JOIN portfolios p ON p.id = m.portfolio_id WHERE p.account_id = ? "
                  "AND m.asset_id = ? AND (m.state = 'active' OR (m.state = 'leaving' AND m.leaves_at > ?))",
                  {account_id, asset_id, to_micros(now)})
              .rows.empty();
}

std::vector<std::int64_t> with_member_sensors(Connection& c, const std::vector<std::int64_t>& sensor_ids) {
  std::vector<std::int64_t> out;
  if (sensor_ids.empty()) return out;
  std::string in;
  std::vector<Value> params;
  for (auto id : sensor_ids) {
    in += in.empty() ? "?" : ", ?";
    params.emplace_back(id);
  }
  for (const auto& row : c.query("SELECT DISTINCT m.portfolio_id FROM portfolio_members m JOIN sensors s ON s.asset_id = "
                                 "m.asset_id WHERE m.state IN ('active', 'leaving') AND s.id IN (" + in + ")",
                                 params)
                             .rows) {
    out.push_back(Row(row).int64(0));
  }
  return out;
}

bool claim_step(Connection& c, const StepRecord& s) {
  return c.query(std::string("INSERT INTO portfolio_steps (") + kStepColumns +
                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (portfolio_id, slot_start, kind) DO NOTHING",
                 {s.portfolio_id, to_micros(s.slot_start), s.kind, s.job_id ? Value(*s.job_id) : Value(nullptr), s.state,
                  s.detail ? Value(*s.detail) : Value(nullptr), to_micros(s.created_at), to_micros(s.updated_at)})
             .affected_rows > 0;
}

void finish_step(Connection& c, std::int64_t portfolio_id, Instant slot, const std::string& kind, const std::string& state,
                 const std::string& detail, Instant at) {
  c.query("UPDATE portfolio_steps SET state = ?, detail = ?, updated_at = ? WHERE portfolio_id = ? AND slot_start = ? "
          "AND kind = ?",
          {state, detail, to_micros(at), portfolio_id, to_micros(slot), kind});
}

void set_step_job(Connection& c, std::int64_t portfolio_id, Instant slot, const std::string& kind, std::int64_t job_id) {
  c.query("UPDATE portfolio_steps SET job_id = ? WHERE portfolio_id = ? AND slot_start = ? AND kind = ?",
          {job_id, portfolio_id, to_micros(slot), kind});
}

std::optional<StepRecord> step(Connection& c, std::int64_t portfolio_id, Instant slot, const std::string& kind) {
  auto r = c.query(std::string("SELECT ") + kStepColumns +
                       " FROM portfolio_steps WHERE portfolio_id = ? AND slot_start = ? AND kind = ?",
                   {portfolio_id, to_micros(slot), kind});
  if (r.rows.empty()) return std::nullopt;
  return step_from(r[0]);
}

std::vector<StepRecord> steps(Connection& c, std::int64_t portfolio_id, Instant from, Instant to,
                              const std::string& kind_prefix, std::int64_t offset, std::int64_t limit) {
  std::vector<StepRecord> out;
  for (const auto& row : c.query(std::string("SELECT ") + kStepColumns +
                                     " FROM portfolio_steps WHERE portfolio_id = ? AND slot_start >= ? AND slot_start < ? "
                                     "AND kind LIKE ? ORDER BY slot_start DESC, kind LIMIT ? OFFSET ?",
                                 {portfolio_id, to_micros(from), to_micros(to), kind_prefix + "%", limit, offset})
                             .rows) {
    out.push_back(step_from(Row(row)));
  }
  return out;
}

std::int64_t count_steps(Connection& c, std::int64_t portfolio_id, Instant from, Instant to, const std::string& kind_prefix) {
  return c.query("SELECT COUNT(*) FROM portfolio_steps WHERE portfolio_id = ? AND slot_start >= ? AND slot_start < ? "
                 "AND kind LIKE ?",
                 {portfolio_id, to_micros(from), to_micros(to), kind_prefix + "%"})[0]
      .int64(0);
}

std::vector<std::pair<Instant, int>> unshared_statements(Connection& c, const PortfolioRecord& p, Instant since) {
  std::vector<std::pair<Instant, int>> out;
  for (const auto& row : c.query("SELECT s.slot_start, s.version FROM settlements s WHERE s.market_id = ? AND s.account_id = ? "
                                 "AND s.current = 1 AND s.slot_start >= ? AND NOT EXISTS (SELECT 1 FROM portfolio_steps ps "
                                 "WHERE ps.portfolio_id = ? AND ps.slot_start = s.slot_start AND ps.kind = 'share:' || "
                                 "CAST(s.version AS TEXT)) ORDER BY s.slot_start",
                                 {p.market_id, p.account_id, to_micros(since), p.id})
                             .rows) {
    Row r(row);
    out.emplace_back(from_micros(r.int64(0)), static_cast<int>(r.int64(1)));
  }
  return out;
}

void save_shares(Connection& c, const std::vector<ShareRecord>& shares, const FeeRecord& fee) {
  c.query("UPDATE portfolio_shares SET current = 0 WHERE portfolio_id = ? AND slot_start = ?",
          {fee.portfolio_id, to_micros(fee.slot_start)});
  c.query("UPDATE portfolio_fees SET current = 0 WHERE portfolio_id = ? AND slot_start = ?",
          {fee.portfolio_id, to_micros(fee.slot_start)});
  for (const auto& s : shares) {
    c.query("INSERT INTO portfolio_shares (portfolio_id, slot_start, version, asset_id, account_id, baseline_kwh, "
            "setpoint_kwh, metered_kwh, delivered_kwh, curtailed_kwh, shifted_kwh_h, traded_kwh, price, amount_minor, "
            "current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING",
            {s.portfolio_id, to_micros(s.slot_start), static_cast<std::int64_t>(s.version), s.asset_id, s.account_id,
             s.baseline_kwh, s.setpoint_kwh, s.metered_kwh, s.delivered_kwh, s.curtailed_kwh, s.shifted_kwh_h, s.traded_kwh,
             s.price ? Value(*s.price) : Value(nullptr), s.amount_minor});
  }
  c.query("INSERT INTO portfolio_fees (portfolio_id, slot_start, version, statement_total_minor, fee_minor, current) "
          "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING",
          {fee.portfolio_id, to_micros(fee.slot_start), static_cast<std::int64_t>(fee.version), fee.statement_total_minor,
           fee.fee_minor});
}

std::vector<ShareRecord> shares(Connection& c, std::int64_t portfolio_id, Instant from, Instant to) {
  std::vector<ShareRecord> out;
  for (const auto& row :
       c.query("SELECT portfolio_id, slot_start, version, asset_id, account_id, baseline_kwh, setpoint_kwh, metered_kwh, "
               "delivered_kwh, curtailed_kwh, shifted_kwh_h, traded_kwh, price, amount_minor FROM portfolio_shares WHERE "
               "portfolio_id = ? AND slot_start >= ? AND slot_start < ? AND current = 1 ORDER BY slot_start, asset_id",
               {portfolio_id, to_micros(from), to_micros(to)})
           .rows) {
    Row r(row);
    ShareRecord s;
    s.portfolio_id = r.int64(0);
    s.slot_start = from_micros(r.int64(1));
    s.version = static_cast<int>(r.int64(2));
    s.asset_id = r.int64(3);
    s.account_id = r.int64(4);
    s.baseline_kwh = r.real(5);
    s.setpoint_kwh = r.real(6);
    s.metered_kwh = r.real(7);
    s.delivered_kwh = r.real(8);
    s.curtailed_kwh = r.real(9);
    s.shifted_kwh_h = r.real(10);
    s.traded_kwh = r.real(11);
    if (!r.is_null(12)) s.price = r.real(12);
    s.amount_minor = r.int64(13);
    out.push_back(s);
  }
  return out;
}

std::vector<FeeRecord> fees(Connection& c, std::int64_t portfolio_id, Instant from, Instant to) {
  std::vector<FeeRecord> out;
  for (const auto& row : c.query("SELECT portfolio_id, slot_start, version, statement_total_minor, fee_minor FROM "
                                 "portfolio_fees WHERE portfolio_id = ? AND slot_start >= ? AND slot_start < ? AND "
                                 "current = 1 ORDER BY slot_start",
                                 {portfolio_id, to_micros(from), to_micros(to)})
                             .rows) {
    Row r(row);
    out.push_back({r.int64(0), from_micros(r.int64(1)), static_cast<int>(r.int64(2)), r.int64(3), r.int64(4)});
  }
  return out;
}

}  // namespace flexmarket::store::portfolios
