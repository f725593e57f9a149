import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";

export function when(ts: Timestamp | undefined): string {
  if (!ts || (ts.seconds === 0n && ts.nanos === 0)) return "—";
  return timestampDate(ts).toLocaleString();
}

export function ago(ts: Timestamp | undefined, now = Date.now()): string {
  if (!ts || (ts.seconds === 0n && ts.nanos === 0)) return "never";
  const s = Math.max(0, Math.round((now - timestampDate(ts).getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function bytes(n: bigint | number): string {
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}

export function duration(ms: number): string {
  if (ms <= 0) return "0 s";
  const s = Math.ceil(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/** "in 42 days", "in 5 h", "today", "3 days ago": how far a moment is from now, in whole days when a day or more. */
export function relativeDays(ts: Timestamp | undefined, now = Date.now()): string {
  if (!ts || (ts.seconds === 0n && ts.nanos === 0)) return "";
  const ms = timestampDate(ts).getTime() - now;
  const abs = Math.abs(ms);
  const days = Math.floor(abs / 86_400_000);
  const text = days >= 1 ? `${days} day${days === 1 ? "" : "s"}` : abs >= 3_600_000 ? `${Math.floor(abs / 3_600_000)} h` : `${Math.max(1, Math.floor(abs / 60_000))} min`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}
