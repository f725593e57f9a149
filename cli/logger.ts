import pino, { type Logger } from "pino";
import { BUNDLED } from "../lib/package-info.ts";

// Belt and braces: code never logs secrets on purpose, and these paths are censored if one slips in.
const REDACT = [
  "password",
  "*.password",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "setupToken",
  "authorization",
  "*.authorization",
  "cookie",
  "*.cookie",
  "headers.authorization",
  "headers.cookie",
  "req.headers.authorization",
  "req.headers.cookie",
];

/** pino JSON on a pipe, pretty-printed on a terminal (not in the self-contained agent: pino-pretty runs in a worker loaded from its own files). */
export function createLogger(level: string, name: string): Logger {
  const options = { level, name, redact: { paths: REDACT, censor: "[redacted]" } };
  if (process.stdout.isTTY && !BUNDLED) {
    return pino({ ...options, transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } } });
  }
  // Synchronous writes: nothing is lost when the process exits right after logging.
  return pino(options, pino.destination({ dest: 1, sync: true }));
}
