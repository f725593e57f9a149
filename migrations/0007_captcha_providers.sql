-- Hosted captcha providers (Turnstile, hCaptcha, reCAPTCHA v2) that challenge rules can check with.
CREATE TABLE captcha_providers (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  kind        TEXT NOT NULL,
  -- CaptchaProviderSpec as proto JSON without the secret key, validated before it is written.
  spec        TEXT NOT NULL,
  -- The provider's secret key, stored as is for now: a later issue encrypts secrets at rest.
  -- Never returned by the API, never logged.
  secret_key  TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;
