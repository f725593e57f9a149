import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadManagementSettings } from "../../../management/settings/management-settings.ts";
import { SettingsError } from "../../../lib/env.ts";

const bad = (env: Record<string, string>, variable: string) =>
  assert.throws(() => loadManagementSettings(env, "/srv"), (e: unknown) => e instanceof SettingsError && e.variable === variable);

describe("management settings", () => {
  it("has the documented defaults", () => {
    const s = loadManagementSettings({}, "/srv");
    assert.equal(s.port, 8081);
    assert.equal(s.bindAddress, "0.0.0.0");
    assert.equal(s.configDir, "/srv/data");
    assert.equal(s.databasePath, "/srv/data/warren.db");
    assert.equal(s.tlsMode, "auto");
    assert.equal(s.cookieSecure, true);
    assert.equal(s.setupWindowMs, 300_000);
    assert.equal(s.rateLimitStore, "memory");
    assert.deepEqual(s.publicConnectionLimits, { perListener: 10_000, perIp: 256 });
    assert.deepEqual(loadManagementSettings({ PUBLIC_MAX_CONNECTIONS: "500", PUBLIC_MAX_CONNECTIONS_PER_IP: "20" }).publicConnectionLimits, { perListener: 500, perIp: 20 });
    assert.equal(loadManagementSettings({ RATE_LIMIT_STORE: "redis://10.0.0.5:6379/2" }).rateLimitStore, "redis://10.0.0.5:6379/2");
  });
  it("derives the database path and cookie security", () => {
    assert.equal(loadManagementSettings({ CONFIG_DIR: "/var/lib/warren" }).databasePath, "/var/lib/warren/warren.db");
    assert.equal(loadManagementSettings({ DATABASE_PATH: "db/w.db" }, "/srv").databasePath, "/srv/db/w.db");
    const off = { MANAGEMENT_TLS_MODE: "off", MANAGEMENT_ALLOW_INSECURE_HTTP: "true" };
    assert.equal(loadManagementSettings(off).cookieSecure, false);
    assert.equal(loadManagementSettings({ ...off, ENV: "production" }).cookieSecure, true);
    assert.equal(loadManagementSettings({ ...off, MANAGEMENT_COOKIE_SECURE: "true" }).cookieSecure, true);
  });
  it("names the variable on every invalid value", () => {
    bad({ MANAGEMENT_PORT: "70000" }, "MANAGEMENT_PORT");
    bad({ MANAGEMENT_PORT: "1.5" }, "MANAGEMENT_PORT");
    bad({ MANAGEMENT_TLS_MODE: "on" }, "MANAGEMENT_TLS_MODE");
    bad({ MANAGEMENT_TLS_MODE: "off" }, "MANAGEMENT_TLS_MODE");
    bad({ MANAGEMENT_TLS_MODE: "provided" }, "MANAGEMENT_TLS_CERT_FILE");
    bad({ MANAGEMENT_TLS_MODE: "provided", MANAGEMENT_TLS_CERT_FILE: "/nope", MANAGEMENT_TLS_KEY_FILE: "/nope" }, "MANAGEMENT_TLS_CERT_FILE");
    bad({ MANAGEMENT_TLS_EXTRA_HOSTS: "ok.example,bad host" }, "MANAGEMENT_TLS_EXTRA_HOSTS");
    bad({ MANAGEMENT_SETUP_TOKEN: "short" }, "MANAGEMENT_SETUP_TOKEN");
    bad({ MANAGEMENT_PUBLIC_URL: "ftp://x" }, "MANAGEMENT_PUBLIC_URL");
    bad({ LOG_LEVEL: "loud" }, "LOG_LEVEL");
    bad({ WARREN_TEST_SETUP_WINDOW_MS: "600000" }, "WARREN_TEST_SETUP_WINDOW_MS");
    bad({ TRUSTED_PROXIES: "10.0.0.0/8, 300.1.1.1" }, "TRUSTED_PROXIES");
    bad({ RATE_LIMIT_STORE: "redis" }, "RATE_LIMIT_STORE");
    bad({ RATE_LIMIT_STORE: "http://cache:6379" }, "RATE_LIMIT_STORE");
    bad({ PUBLIC_MAX_CONNECTIONS: "0" }, "PUBLIC_MAX_CONNECTIONS");
    bad({ PUBLIC_MAX_CONNECTIONS: "lots" }, "PUBLIC_MAX_CONNECTIONS");
    bad({ PUBLIC_MAX_CONNECTIONS_PER_IP: "-1" }, "PUBLIC_MAX_CONNECTIONS_PER_IP");
  });
  it("never repeats a password from RATE_LIMIT_STORE in its error", () => {
    assert.throws(
      () => loadManagementSettings({ RATE_LIMIT_STORE: "redis//:hunter2@cache" }, "/srv"),
      (e: unknown) => e instanceof SettingsError && e.variable === "RATE_LIMIT_STORE" && !e.message.includes("hunter2"),
    );
  });
  it("names the variable once and says what is accepted once", () => {
    assert.throws(
      () => loadManagementSettings({ TRUSTED_PROXIES: "10.0.0.0/33" }, "/srv"),
      (e: unknown) =>
        e instanceof SettingsError &&
        e.message.startsWith('TRUSTED_PROXIES: "10.0.0.0/33": ') &&
        e.message.split("TRUSTED_PROXIES").length === 2 &&
        e.message.split("(expected").length === 2,
    );
  });
});
