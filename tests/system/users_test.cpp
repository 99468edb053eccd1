// Accounts, users and role checks over HTTP, on SQLite and PostgreSQL.
#include "support/fixture.hpp"

namespace flexmarket::testing {
namespace {

class Users : public PlatformTest {
 protected:
  std::int64_t user_count(const std::string& token) {
    return body_of(http->Get("/api/v1/users", bearer(token)))["total"].get<std::int64_t>();
  }
};

TEST_P(Users, AdminCreatesUserWithGeneratedPasswordThatWorksOnce) {
  const std::string admin = admin_token();
  auto r = http->Post("/api/v1/users", bearer(admin),
                      R"({"email": "Bems@Abri.example", "account": "ABRI_BEMS", "roles": ["participant"]})",
                      "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  auto j = body_of(r);
  EXPECT_EQ(j["user"]["email"], "bems@abri.example");
  EXPECT_EQ(j["user"]["account"]["name"], "ABRI_BEMS");
  EXPECT_EQ(j["user"]["roles"], json::array({"participant"}));
  EXPECT_TRUE(j["account_created"].get<bool>());
  EXPECT_EQ(r->get_header_value("Location"), "/api/v1/users/" + std::to_string(j["user"]["id"].get<int>()));
  const std::string password = j["password"];
  EXPECT_EQ(password.size(), 20u);

  const std::string token = login(*http, "bems@abri.example", password);
  auto me = body_of(http->Get("/api/v1/me", bearer(token)));
  EXPECT_EQ(me["account"]["name"], "ABRI_BEMS");
  EXPECT_EQ(me["roles"], json::array({"participant"}));

  // The generated password is not kept anywhere the API can show it again.
  auto again = http->Get("/api/v1/users/" + std::to_string(j["user"]["id"].get<int>()), bearer(admin));
  EXPECT_EQ(body_of(again).count("password"), 0u);
}

TEST_P(Users, DuplicateEmailIsAConflictAndChangesNothing) {
  const std::string admin = admin_token();
  create_user("dup@example.com", "A", "participant", admin);
  const auto before = user_count(admin);
  auto r = http->Post("/api/v1/users", bearer(admin),
                      json{{"email", "DUP@example.com"}, {"account", "B"}, {"roles", {"meter"}}}.dump(),
                      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(body_of(r)["error"]["code"], "conflict");
  EXPECT_EQ(user_count(admin), before);
  // The account "B" that the failed request would have created does not exist either.
  auto accounts = body_of(http->Get("/api/v1/accounts?per_page=500", bearer(admin)));
  for (const auto& a : accounts["items"]) EXPECT_NE(a["name"], "B");
}

TEST_P(Users, ParticipantCannotCreateUsersOrAccounts) {
  auto [id, pw] = create_user("p@example.com", "Carlab_BEMS", "participant");
  const std::string token = login(*http, "p@example.com", pw);
  const auto before = user_count(admin_token());

  auto r = http->Post("/api/v1/users", bearer(token),
                      json{{"email", "x@example.com"}, {"account", "Carlab_BEMS"}, {"roles", {"participant"}}}.dump(),
                      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(body_of(r)["error"]["code"], "forbidden");
  auto a = http->Post("/api/v1/accounts", bearer(token), R"({"name": "Mine"})", "application/json");
  EXPECT_EQ(a->status, 403);
  EXPECT_EQ(user_count(admin_token()), before);
}

// Operators run markets; users, roles and passwords are the admin's (issue 9, 8e): an
// operator who could set a participant's password could bid as it.
TEST_P(Users, OperatorsDoNotManageUsers) {
  auto [op_id, op_pw] = create_user("op@example.com", "Operations", "operator");
  auto [p_id, p_pw] = create_user("ncku@example.com", "NCKU_BEMS", "participant");
  const std::string op = login(*http, "op@example.com", op_pw);
  for (const char* role : {"participant", "admin"}) {
    auto no = http->Post("/api/v1/users", bearer(op),
                         json{{"email", "new@example.com"}, {"account", "NCKU_BEMS"}, {"roles", {role}}}.dump(),
                         "application/json");
    EXPECT_EQ(no->status, 403) << no->body;
  }
  for (const char* change : {R"({"roles": ["admin"]})", R"({"password": "taken-over-password"})", R"({"active": false})"}) {
    auto r = http->Patch("/api/v1/users/" + std::to_string(p_id), bearer(op), change, "application/json");
    EXPECT_EQ(r->status, 403) << change;
  }
  EXPECT_EQ(http->Post("/api/v1/accounts", bearer(op), R"({"name": "Mine"})", "application/json")->status, 403);
  // Reading accounts stays: meters are chosen per account.
  EXPECT_EQ(http->Get("/api/v1/accounts", bearer(op))->status, 200);
  EXPECT_EQ(http->Get("/api/v1/users/" + std::to_string(p_id), bearer(op))->status, 404);
  login(*http, "ncku@example.com", p_pw);  // the password did not change
  (void)op_id;
}

TEST_P(Users, ParticipantSeesOnlyItsOwnAccount) {
  const std::string admin = admin_token();
  auto [a_id, a_pw] = create_user("a@example.com", "ABRI_BEMS", "participant", admin);
  auto [b_id, b_pw] = create_user("b@example.com", "NCKU_BEMS", "participant", admin);
  const std::string a = login(*http, "a@example.com", a_pw);

  auto list = body_of(http->Get("/api/v1/users", bearer(a)));
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["email"], "a@example.com");
  EXPECT_EQ(list["total"], 1);
  EXPECT_EQ(http->Get("/api/v1/users/" + std::to_string(b_id), bearer(a))->status, 404);
  EXPECT_EQ(http->Get("/api/v1/users/" + std::to_string(a_id), bearer(a))->status, 200);
  auto accounts = body_of(http->Get("/api/v1/accounts", bearer(a)));
  ASSERT_EQ(accounts["items"].size(), 1u);
  EXPECT_EQ(accounts["items"][0]["name"], "ABRI_BEMS");
}

TEST_P(Users, ListsArePaged) {
  const std::string admin = admin_token();
  for (int i = 0; i < 6; ++i) {
    auto r = http->Post("/api/v1/users", bearer(admin),
                        json{{"email", "u" + std::to_string(i) + "@example.com"},
                             {"account", "Paging"},
                             {"roles", {"meter"}},
                             {"password", "meter-password-" + std::to_string(i)}}
                            .dump(),
                        "application/json");
    ASSERT_EQ(r->status, 201) << r->body;
  }
  // 7 users in all: the admin and six meters.
  auto p3 = body_of(http->Get("/api/v1/users?page=3&per_page=3", bearer(admin)));
  EXPECT_EQ(p3["total"], 7);
  EXPECT_EQ(p3["page"], 3);
  EXPECT_EQ(p3["per_page"], 3);
  ASSERT_EQ(p3["items"].size(), 1u);
  EXPECT_EQ(p3["items"][0]["email"], "u5@example.com");
  auto bad = http->Get("/api/v1/users?per_page=5000", bearer(admin));
  EXPECT_EQ(bad->status, 422);
  EXPECT_EQ(body_of(bad)["error"]["field"], "per_page");
  EXPECT_EQ(http->Get("/api/v1/users?page=abc", bearer(admin))->status, 422);
}

TEST_P(Users, DeactivatedUserCannotLogInOrUseItsToken) {
  auto [id, pw] = create_user("gone@example.com", "X", "participant");
  const std::string token = login(*http, "gone@example.com", pw);
  auto r = http->Patch("/api/v1/users/" + std::to_string(id), bearer(admin_token()), R"({"active": false})",
                       "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_FALSE(body_of(r)["active"].get<bool>());
  auto me = http->Get("/api/v1/me", bearer(token));
  EXPECT_EQ(me->status, 401);
  EXPECT_EQ(body_of(me)["error"]["code"], "user_inactive");
  EXPECT_EQ(http->Post("/api/v1/auth/token", json{{"email", "gone@example.com"}, {"password", pw}}.dump(),
                       "application/json")
                ->status,
            401);
}

TEST_P(Users, TheLastAdminCannotBeRemoved) {
  const std::string admin = admin_token();
  auto me = body_of(http->Get("/api/v1/me", bearer(admin)));
  const std::string path = "/api/v1/users/" + me["user"]["id"].dump();
  auto r = http->Patch(path, bearer(admin), R"({"roles": ["participant"]})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(body_of(http->Get(path, bearer(admin)))["roles"], json::array({"admin"}));
  EXPECT_EQ(http->Patch(path, bearer(admin), R"({"active": false})", "application/json")->status, 409);
}

TEST_P(Users, BadInputIsRefusedNamingTheField) {
  const std::string admin = admin_token();
  const auto before = user_count(admin);
  struct Case {
    std::string body;
    int status;
    std::string field;
  };
  const Case cases[] = {
      {R"({"email": "a@example.com", "account": "A", "roles": ["participant"]})", 201, ""},
      {R"({"email": "b@example.com", "account": "A"})", 422, "roles"},
      {R"({"email": "c@example.com", "account": "A", "roles": ["root"]})", 422, "roles"},
      {R"({"email": "d@example.com", "account": "A", "roles": "participant"})", 422, "roles"},
      {R"({"email": 42, "account": "A", "roles": ["participant"]})", 422, "email"},
      {R"({"email": "not-an-email", "account": "A", "roles": ["participant"]})", 422, "email"},
      {R"({"account": "A", "roles": ["participant"]})", 422, "email"},
      {R"({"email": "e@example.com", "account": "", "roles": ["participant"]})", 422, "name"},
      {R"({"email": "f@example.com", "account": "A", "roles": ["meter"], "password": "short"})", 422, "password"},
      {R"({"email": "g@example.com", "account": "A", "roles": ["meter"], "colour": "red"})", 422, "colour"},
      {R"({"email": "h@example.com", "account": "A", "roles": [)", 400, ""},
      {R"(["email"])", 400, ""},
  };
  for (const auto& c : cases) {
    auto r = http->Post("/api/v1/users", bearer(admin), c.body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, c.status) << c.body << " -> " << r->body;
    if (!c.field.empty()) {
      EXPECT_EQ(body_of(r)["error"]["field"], c.field) << c.body;
    }
    if (c.status >= 400) {
      EXPECT_TRUE(body_of(r)["error"]["code"].is_string()) << r->body;
      EXPECT_TRUE(body_of(r)["error"]["message"].is_string()) << r->body;
    }
  }
  EXPECT_EQ(user_count(admin), before + 1);  // only the one good request changed anything
}

FLEXMARKET_ON_BOTH_BACKENDS(Users);

}  // namespace
}  // namespace flexmarket::testing
