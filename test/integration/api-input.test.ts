import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../proto/gen/warren/v1/auth_pb.ts";
import { UserService, Role } from "../../proto/gen/warren/v1/user_pb.ts";
import { METHOD_POLICIES } from "../../management/auth/method-access.ts";
import { cookieHeader, type JsonApi, type WarrenProcess } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";

describe("management API: protocols and bad input", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let api: JsonApi;
  let cookie: string;
  before(() => {
    ({ w, api } = warren);
    cookie = warren.adminCookie;
  });

  it("speaks Connect (JSON and binary), gRPC and gRPC-Web over HTTP/2 and HTTP/1.1", async () => {
    const nodeOptions = { ca: w.caPem };
    const transports = {
      "connect+json h1": createConnectTransport({ baseUrl: w.baseUrl, httpVersion: "1.1", nodeOptions, useBinaryFormat: false }),
      "connect+proto h2": createConnectTransport({ baseUrl: w.baseUrl, httpVersion: "2", nodeOptions, useBinaryFormat: true }),
      "grpc h2": createGrpcTransport({ baseUrl: w.baseUrl, nodeOptions }),
      "grpc-web h1": createGrpcWebTransport({ baseUrl: w.baseUrl, httpVersion: "1.1", nodeOptions }),
    };
    for (const [name, transport] of Object.entries(transports)) {
      const auth = createClient(AuthService, transport);
      const users = createClient(UserService, transport);
      const state = await auth.getSetupState({});
      assert.equal(state.setupRequired, false, name);
      const list = await users.listUsers({}, { headers: cookieHeader(cookie) });
      assert.equal(list.users[0]?.role, Role.ADMIN, name);
      await assert.rejects(users.listUsers({}), (e: unknown) => e instanceof ConnectError && e.code === Code.Unauthenticated, name);
    }
  });

  it("rejects wrong content types (415), GET (405), unknown procedures (404) and sends no CORS headers", async () => {
    for (const ct of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const r = await api.raw("/warren.v1.AuthService/GetSetupState", { method: "POST", headers: { "content-type": ct }, body: "{}" });
      assert.equal(r.status, 415, ct);
    }
    const get = await api.raw("/warren.v1.AuthService/GetSetupState", { method: "GET" });
    assert.equal(get.status, 405);
    const unknown = await api.call("AuthService/Nope", {});
    assert.equal(unknown.status, 404);
    const pre = await api.raw("/warren.v1.AuthService/Login", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.ok(!Object.keys(pre.headers).some((h) => h.startsWith("access-control-")), "no CORS headers");
    const login = await api.call("AuthService/Login", { username: "x", password: "y" }, { origin: "https://evil.example" });
    assert.ok(!Object.keys(login.headers).some((h) => h.startsWith("access-control-")));
  });

  it("maps malformed JSON and unknown fields to invalid_argument", async () => {
    const bad = await api.call("AuthService/Login", "{not json");
    assert.equal(bad.json.code, "invalid_argument");
    const unknown = await api.call("AuthService/Login", { username: "admin", password: "x", isAdmin: true });
    assert.equal(unknown.json.code, "invalid_argument");
    assert.match(String(unknown.json.message), /isAdmin/);
    const wrongType = await api.call("UserService/CreateUser", { username: 7, password: [], role: "ROLE_GOD" }, cookieHeader(cookie));
    assert.equal(wrongType.json.code, "invalid_argument");
  });

  it("refuses bodies over 1 MiB: 413 with Content-Length, resource_exhausted when streamed", async () => {
    const big = JSON.stringify({ username: "a".repeat(1024 * 1024 + 10), password: "x" });
    const r = await api.call("AuthService/Login", big);
    assert.equal(r.status, 413);
    assert.equal(r.json.code, "resource_exhausted");
    const { request } = await import("undici");
    const chunked = await request(`${w.baseUrl}/warren.v1.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: Readable.from(
        (async function* () {
          for (let i = 0; i < 160; i++) yield Buffer.alloc(100 * 1024, 0x61);
        })(),
      ),
      dispatcher: api.dispatcher,
    });
    const body = (await chunked.body.json()) as { code: string };
    assert.equal(body.code, "resource_exhausted");
  });

  it("names the field in every validation error", async () => {
    const c = cookieHeader(cookie);
    const cases: [string, unknown, RegExp][] = [
      ["UserService/CreateUser", { username: "", password: "long enough password", role: "ROLE_VIEWER" }, /^username: is required/],
      ["UserService/CreateUser", { username: "ok_name", password: "short", role: "ROLE_VIEWER" }, /^password: /],
      ["UserService/CreateUser", { username: "ok_name", password: "long enough password" }, /^role: /],
      ["UserService/UpdateUser", { id: "" }, /^id: is required/],
      ["UserService/DeleteUser", { id: "" }, /^id: is required/],
      ["UserService/ChangePassword", { newPassword: "x" }, /^new_password: /],
      ["UserService/ChangePassword", { newPassword: "long enough password" }, /^current_password: /],
      ["TokenService/CreateToken", { name: "" }, /^name: is required/],
      ["TokenService/CreateToken", { name: "x".repeat(65) }, /^name: /],
      ["TokenService/DeleteToken", { id: "" }, /^id: is required/],
      ["AuthService/Login", { username: "", password: "x" }, /^username: is required/],
      ["AuthService/Login", { username: "admin", password: "" }, /^password: is required/],
    ];
    for (const [proc, body, re] of cases) {
      const r = await api.call(proc, body, c);
      assert.equal(r.json.code, "invalid_argument", `${proc} ${JSON.stringify(body)}: ${r.text}`);
      assert.match(String(r.json.message), re, proc);
    }
    const missing = await api.call("UserService/UpdateUser", { id: "usr_nope" }, c);
    assert.equal(missing.json.code, "not_found");
  });

  it("survives random bodies on every method without a 5xx", async () => {
    for (const key of METHOD_POLICIES.keys()) {
      for (let i = 0; i < 5; i++) {
        const proto = await api.raw(`/${key}`, { method: "POST", headers: { "content-type": "application/proto", ...cookieHeader(cookie) }, body: randomBytes(1 + i * 37) });
        assert.ok(proto.status < 500, `${key} proto: ${proto.status} ${proto.text}`);
      }
      const json = await api.call(key.replace("warren.v1.", ""), { id: "\u0000", name: "\ud800", username: "💥".repeat(100) }, cookieHeader(cookie));
      assert.ok(json.status < 500, `${key} json: ${json.status} ${json.text}`);
    }
    assert.equal((await api.raw("/healthz", { method: "GET" })).status, 200, "still alive");
  });

  it("exposes the CA fingerprint to admins", async () => {
    const info = await api.call("AuthService/GetServerInfo", {}, cookieHeader(cookie));
    assert.equal(info.json.tlsMode, "auto");
    assert.equal(info.json.caFingerprintSha256, w.logs.find((l) => l.msg === "management CA")!.caFingerprintSha256);
    assert.match(String(info.json.caCertificatePem), /BEGIN CERTIFICATE/);
  });
});
