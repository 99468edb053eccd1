// /api/v1 routes for schedules: request one for an asset (queued as a job), read its state
// and, once made, the schedule; list an asset's schedules and the caller's jobs.
#include "api/http.hpp"
#include "api/server.hpp"

namespace flexmarket::api {

void register_v1_schedule_routes(ApiServer& s) {
  auto& p = s.platform();
  s.route("POST", R"(/api/v1/assets/(\d+)/schedules)", only({Role::admin, Role::operator_, Role::aggregator, Role::participant}, {Resource::asset}, {}), [&p](RequestContext& c) {
    const json body = parse_json_object(c.req);
    const std::int64_t id = p.schedules->request(c.caller(), path_id(c.req), body);
    c.res.set_header("Location", "/api/v1/schedules/" + std::to_string(id));
    send_json(c.res, 202, {{"id", id}, {"state", "queued"}, {"url", "/api/v1/schedules/" + std::to_string(id)}});
  });
  // An asset's schedules (a site's include its devices'), newest first; as GET
  // /api/v1/schedules/{id}: own account, admins and operators every account.
  s.route("GET", R"(/api/v1/assets/(\d+)/schedules)", everyone({Resource::asset}, {Role::admin, Role::operator_}),
          [&p](RequestContext& c) {
            send_json(c.res, 200,
                      p.schedules->list_for_asset(c.caller(), path_id(c.req), query_filter(c.req, "state"),
                                                  query_int(c.req, "page", 1), query_int(c.req, "per_page", 50)));
          });
  s.route("GET", "/api/v1/jobs", everyone(), [&p](RequestContext& c) {
    send_json(c.res, 200,
              p.schedules->list_jobs(c.caller(), query_filter(c.req, "state"), query_filter(c.req, "type"),
                                     query_int(c.req, "page", 1), query_int(c.req, "per_page", 50)));
  });
  s.route("GET", R"(/api/v1/schedules/(\d+))", everyone({Resource::schedule}, {Role::admin, Role::operator_}), [&p](RequestContext& c) {
    send_json(c.res, 200, p.schedules->get(c.caller(), path_id(c.req)));
  });
  s.route("DELETE", R"(/api/v1/schedules/(\d+))",
          only({Role::admin, Role::operator_, Role::aggregator, Role::participant}, {Resource::schedule}, {}),
          [&p](RequestContext& c) { send_json(c.res, 200, p.schedules->cancel(c.caller(), path_id(c.req))); });
}

}  // namespace flexmarket::api
