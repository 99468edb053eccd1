// The web interface's side of the server, over HTTP on SQLite and PostgreSQL: cookie
// sessions with CSRF protection, personal API tokens, and the pages and files it serves.
#include <regex>

#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class WebSessions : public PlatformTest {
 protected:
  void SetUp() override {
    PlatformTest::SetUp();
    admin = admin_token();
    auto [id, pw] = create_user("bems@example.com", "ABRI_BEMS", "participant", admin);
    password = pw;
  }

  struct Session {
    std::string cookie, csrf;
    std::vector<std::string> set_cookies;
  };

  Session open_session(const std::string& email, const std::string& pw, const httplib::Headers& extra = {}) {
    auto r = http->Post("/api/v1/auth/session", extra, json{{"email", email}, {"password", pw}}.dump(),
                        "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
    Session s;
    if (!r) return s;
    for (std::size_t i = 0; i < r->get_header_value_count("Set-Cookie"); ++i) {
      s.set_cookies.push_back(r->get_header_value("Set-Cookie", i));
    }
    std::smatch m;
    for (const auto& c : s.set_cookies) {
      if (std::regex_search(c, m, std::regex("^fm_session=([^;]+)"))) s.cookie = m[1];
    }
    s.csrf = body_of(r)["csrf_token"];
    return s;
  }

  httplib::Headers with(const Session& s, bool csrf) {
    httplib::Headers h{{"Cookie", "fm_session=" + s.cookie + "; fm_csrf=" + s.csrf}};
    if (csrf) h.emplace("X-CSRF-Token", s.csrf);
    return h;
  }

  std::string admin, password;
};

TEST_P(WebSessions, ABrowserSessionIsAnHttpOnlyStrictCookie) {
  Session s = open_session("bems@example.com", password);
  ASSERT_EQ(s.set_cookies.size(), 2u);
  for (const auto& c : s.set_cookies) {
    EXPECT_NE(c.find("SameSite=Strict"), std::string::npos) << c;
    EXPECT_NE(c.find("Path=/"), std::string::npos) << c;
    EXPECT_EQ(c.find("Secure"), std::string::npos) << c;
  }
  EXPECT_NE(s.set_cookies[0].find("HttpOnly"), std::string::npos);
  EXPECT_EQ(s.set_cookies[1].rfind("fm_csrf=" + s.csrf, 0), 0u);
  EXPECT_EQ(s.set_cookies[1].find("HttpOnly"), std::string::npos);

  auto me = http->Get("/api/v1/me", with(s, false));
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(body_of(me)["user"]["email"], "bems@example.com");

  // Over TLS (as a proxy in front says) the cookies are Secure.
  Session tls = open_session("bems@example.com", password, {{"X-Forwarded-Proto", "https"}});
  for (const auto& c : tls.set_cookies) EXPECT_NE(c.find("; Secure"), std::string::npos) << c;

  // Wrong credentials: the API's message, no cookie.
  auto bad = http->Post("/api/v1/auth/session", json{{"email", "bems@example.com"}, {"password", "wrong-password"}}.dump(),
                        "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  EXPECT_EQ(body_of(bad)["error"]["message"], "email or password is wrong");
  EXPECT_FALSE(bad->has_header("Set-Cookie"));
}

TEST_P(WebSessions, ChangesWithTheCookieNeedTheSessionsCsrfToken) {
  Session s = open_session("bems@example.com", password);
  const std::string body = json{{"name", "roof meter"}, {"unit", "kW"}, {"event_resolution", "PT15M"}}.dump();
  auto no_csrf = http->Post("/api/v1/sensors", with(s, false), body, "application/json");
  ASSERT_TRUE(no_csrf);
  EXPECT_EQ(no_csrf->status, 403);
  EXPECT_EQ(body_of(no_csrf)["error"]["code"], "csrf_failed");
  auto wrong = with(s, false);
  wrong.emplace("X-CSRF-Token", std::string(s.csrf.size(), '0'));
  EXPECT_EQ(http->Post("/api/v1/sensors", wrong, body, "application/json")->status, 403);
  // Another session's CSRF token does not fit this one.
  Session other = open_session("bems@example.com", password);
  auto crossed = with(s, false);
  crossed.emplace("X-CSRF-Token", other.csrf);
  EXPECT_EQ(http->Post("/api/v1/sensors", crossed, body, "application/json")->status, 403);
  // Nothing was created by the refused requests.
  const std::string bearer_token = login(*http, "bems@example.com", password);
  EXPECT_EQ(get("/api/v1/sensors", bearer_token)["total"], 0);

  auto ok = http->Post("/api/v1/sensors", with(s, true), body, "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
  // Bearer clients need no CSRF token.
  post("/api/v1/sensors", bearer_token, {{"name", "second"}, {"unit", "kW"}, {"event_resolution", "PT15M"}});
  EXPECT_EQ(get("/api/v1/sensors", bearer_token)["total"], 2);
}

TEST_P(WebSessions, LogoutAndPasswordChangeEndTheSession) {
  Session s = open_session("bems@example.com", password);
  Session kept = open_session("bems@example.com", password);
  auto out = http->Delete("/api/v1/auth/session", with(s, true));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 204);
  bool cleared = false;
  for (std::size_t i = 0; i < out->get_header_value_count("Set-Cookie"); ++i) {
    cleared |= out->get_header_value("Set-Cookie", i).rfind("fm_session=;", 0) == 0;
  }
  EXPECT_TRUE(cleared);
  EXPECT_EQ(http->Get("/api/v1/me", with(s, false))->status, 401);
  EXPECT_EQ(http->Get("/api/v1/me", with(kept, false))->status, 200);

  auto changed = http->Post("/api/v1/me/password", with(kept, true),
                            json{{"current_password", password}, {"new_password", "a-new-password-2"}}.dump(),
                            "application/json");
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->status, 204) << changed->body;
  EXPECT_EQ(http->Get("/api/v1/me", with(kept, false))->status, 401);
}

TEST_P(WebSessions, PersonalTokensAreShownOnceListedAndRevoked) {
  const std::string t = login(*http, "bems@example.com", password);
  const json created = post("/api/v1/me/tokens", t, {{"name", "BEMS uploader"}, {"expires_at", "2099-01-01T00:00:00Z"}}, 422);
  EXPECT_EQ(created["error"]["field"], "expires_at");
  post("/api/v1/me/tokens", t, {{"name", ""}}, 422);
  post("/api/v1/me/tokens", t, {{"name", "x"}, {"expires_at", "yesterday"}}, 422);
  post("/api/v1/me/tokens", t, {{"name", "x"}, {"scope", "all"}}, 422);
  const json tok = post("/api/v1/me/tokens", t, {{"name", "BEMS uploader"}});
  ASSERT_TRUE(tok.contains("token"));
  EXPECT_EQ(tok["state"], "active");
  const std::string personal = tok["token"];
  EXPECT_EQ(get("/api/v1/me", personal)["user"]["email"], "bems@example.com");

  const json listed = get("/api/v1/me/tokens", t)["items"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["name"], "BEMS uploader");
  EXPECT_FALSE(listed[0].contains("token"));
  // Another user neither sees nor revokes it.
  auto [id2, pw2] = create_user("other@example.com", "Carlab_BEMS", "participant", admin);
  const std::string other = login(*http, "other@example.com", pw2);
  EXPECT_EQ(get("/api/v1/me/tokens", other)["items"].size(), 0u);
  const std::string path = "/api/v1/me/tokens/" + std::to_string(tok["id"].get<std::int64_t>());
  EXPECT_EQ(http->Delete(path, bearer(other))->status, 404);
  EXPECT_EQ(get("/api/v1/me", personal)["user"]["email"], "bems@example.com");

  // A password change ends login tokens and sessions; the BEMS's personal token stays.
  auto changed = http->Post("/api/v1/me/password", bearer(t),
                            json{{"current_password", password}, {"new_password", "a-new-password-2"}}.dump(),
                            "application/json");
  EXPECT_EQ(changed->status, 204);
  get("/api/v1/me", t, 401);
  get("/api/v1/me", personal, 200);

  const std::string t2 = login(*http, "bems@example.com", "a-new-password-2");
  EXPECT_EQ(http->Delete(path, bearer(t2))->status, 204);
  get("/api/v1/me", personal, 401);
  EXPECT_EQ(get("/api/v1/me/tokens", t2)["items"][0]["state"], "revoked");
}

TEST_P(WebSessions, PagesAreTheApplicationAndFilesAreCached) {
  auto root = http->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 302);
  EXPECT_EQ(root->get_header_value("Location"), "/login");
  Session s = open_session("bems@example.com", password);
  EXPECT_EQ(http->Get("/", with(s, false))->get_header_value("Location"), "/dashboard");

  for (const char* page : {"/login", "/dashboard", "/market", "/analytics", "/assets", "/users", "/account"}) {
    auto r = http->Get(page);
    ASSERT_TRUE(r) << page;
    EXPECT_EQ(r->status, 200) << page << " " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8") << page;
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store") << page;
    EXPECT_EQ(r->get_header_value_count("Content-Security-Policy"), 1u) << page;
    EXPECT_NE(r->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(r->get_header_value("X-Frame-Options"), "DENY");
  }
  // Every file the page loads is served from the binary, hashed names cached for a year.
  const std::string html = http->Get("/login")->body;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex(R"re(src="(/static/[^"]+\.js)")re"))) << html;
  auto js = http->Get(m[1].str());
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js->get_header_value("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(js->get_header_value_count("Cache-Control"), 1u);
  // Compressed with gzip even when the browser also offers brotli (cpp-httplib's brotli
  // runs at its slowest quality).
  auto packed = http->Get(m[1].str(), {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_TRUE(packed);
  EXPECT_EQ(packed->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(packed->body, js->body);
  EXPECT_EQ(http->Get("/static/nothing-here.js")->status, 404);
  EXPECT_EQ(http->Get("/static/../index.html")->status, 404);
  EXPECT_EQ(http->Get("/nowhere")->status, 404);
}

FLEXMARKET_ON_BOTH_BACKENDS(WebSessions);

}  // namespace
}  // namespace flexmarket::testing
