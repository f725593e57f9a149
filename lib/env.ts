// Small typed readers for environment variables. Each failure names the variable and what it accepts,
// so start-up can stop with one clear line.

export class SettingsError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "SettingsError";
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === "" ? undefined : t;
}

export function readString(env: Env, name: string, fallback: string): string;
export function readString(env: Env, name: string): string | undefined;
export function readString(env: Env, name: string, fallback?: string): string | undefined {
  return raw(env, name) ?? fallback;
}

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  switch (v.toLowerCase()) {
    case "1":
    case "true":
    case "yes":
    case "on":
      return true;
    case "0":
    case "false":
    case "no":
    case "off":
      return false;
    default:
      throw new SettingsError(name, `got "${v}", expected true or false`);
  }
}

export function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v)) throw new SettingsError(name, `got "${v}", expected an integer from ${min} to ${max}`);
  const n = Number(v);
  if (n < min || n > max) throw new SettingsError(name, `got ${n}, expected an integer from ${min} to ${max}`);
  return n;
}

export function readEnum<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  const lower = v.toLowerCase();
  const hit = allowed.find((a) => a === lower);
  if (!hit) throw new SettingsError(name, `got "${v}", expected one of ${allowed.join(", ")}`);
  return hit;
}

export function readList(env: Env, name: string): string[] {
  const v = raw(env, name);
  if (v === undefined) return [];
  return v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function readUrl(env: Env, name: string, protocols: readonly string[]): URL | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new SettingsError(name, `got "${v}", expected an absolute URL such as https://warren.example.com`);
  }
  if (!protocols.includes(u.protocol)) {
    throw new SettingsError(name, `got "${v}", expected a ${protocols.map((p) => p.replace(":", "")).join(" or ")} URL`);
  }
  return u;
}
