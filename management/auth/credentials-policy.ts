import { fieldError } from "../errors.ts";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "./password.ts";

const USERNAME_RE = /^[a-z0-9_-]{3,64}$/;

/** Lower-cases and validates a username; the error names the field it came from. */
export function normalizeUsername(raw: string, field = "username"): string {
  const u = raw.trim().toLowerCase();
  if (u === "") throw fieldError(field, "is required");
  if (!USERNAME_RE.test(u)) throw fieldError(field, "must be 3–64 characters of a–z, 0–9, _ or -");
  return u;
}

export function checkNewPassword(password: string, field = "password"): void {
  if (password === "") throw fieldError(field, "is required");
  if ([...password].length < MIN_PASSWORD_LENGTH) throw fieldError(field, `must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw fieldError(field, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
}
