// `when` expressions of policy rules: CEL (@bufbuild/cel) over one request. @bufbuild/cel 0.6.1 has
// no public type checker, so compileWhen checks the AST itself (declared names, allowed functions,
// literal regexes/CIDRs/patterns) and runs the expression on sample requests to see a bool, quickly.
import { CelScalar, celEnv, celFunc, isCelError, listType, mapType, parse, plan, type CelResult } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { RE2JS } from "@bufbuild/re2";
import type { Expr, ParsedExpr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { CidrSet } from "../../lib/cidr-set.ts";
import { hostMatches, parseHostPattern, validateHostPattern, type HostPattern } from "../routing/host-pattern.ts";
import { matchPathPrefix, normalizePath, parsePathPrefix, validatePathPrefix } from "../routing/path-prefix.ts";
import { CelRequest, type CelRequestInput } from "./cel-request.ts";

export { CelRequest, type CelRequestInput };

export const MAX_WHEN_BYTES = 4096;
const MAX_DEPTH = 250;
/** Static bound on node evaluations (each node weighted by its enclosing loops' ranges) before any trial run. */
const MAX_STEPS = 200_000;
/** A comprehension over a request map or a computed list is assumed this long. */
const ASSUMED_RANGE = 64;
const TRIAL_BUDGET_MS = 50;
const TRIAL_RUNS = 3;

/** An expression refused when saved; the message reads "line L, column C: what is wrong". */
export class CelCheckError extends Error {
  override name = "CelCheckError";
  readonly code = "cel_check_failed";
  readonly line: number;
  readonly column: number;
  readonly reason: string;
  constructor(line: number, column: number, reason: string) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}

/** An expression failed on one request (a missing map key, a bad conversion, a non-bool result). */
export class CelEvalError extends Error {
  override name = "CelEvalError";
  readonly code = "cel_eval_failed";
  /** The expression ran but gave something other than a bool. */
  readonly nonBool: boolean;
  constructor(message: string, options?: { cause?: unknown; nonBool?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.nonBool = options?.nonBool ?? false;
  }
}

export interface CompiledWhen {
  readonly source: string;
  /** Throws CelEvalError on an evaluation error. */
  evaluate(req: CelRequest): boolean;
}

const { BOOL, STRING } = CelScalar;

const VARIABLES = {
  method: STRING,
  protocol: STRING,
  host: STRING,
  path: STRING,
  client_ip: STRING,
  query: mapType(STRING, listType(STRING)),
  headers: mapType(STRING, listType(STRING)),
  cookies: mapType(STRING, STRING),
} as const;

// Type names are identifiers in CEL (`type(x) == string`).
const TYPE_NAMES = new Set(["bool", "int", "uint", "double", "string", "bytes", "list", "map", "null_type", "type"]);

const OPERATORS = [
  "_&&_", "_||_", "!_", "-_", "_?_:_", "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_",
  "_+_", "_-_", "_*_", "_/_", "_%_", "_[_]", "@in", "@not_strictly_false",
];
const STD = ["size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string", "bool", "bytes", "dyn", "type"];
// @bufbuild/cel's strings extension, minus `format` (its own mini-language).
const STRINGS_EXT = ["lowerAscii", "upperAscii", "trim", "charAt", "indexOf", "lastIndexOf", "substring", "split", "join", "replace"];
const HELPERS = ["cidr", "host_match", "path_prefix"];
const ALLOWED_FUNCTIONS = new Set([...OPERATORS, ...STD, ...STRINGS_EXT, ...HELPERS]);
const STRINGS_FUNCS = strings.filter((f) => f.name !== "format");

/** What an expression needs at evaluation, compiled once from its literals. */
interface Literals {
  readonly regexes: Map<string, RE2JS>;
  readonly cidrs: Map<string, CidrSet>;
  readonly hosts: Map<string, HostPattern>;
  readonly prefixes: Map<string, string>;
  /** Every string literal: the trial request carries them as header, cookie and query names. */
  readonly strings: Set<string>;
}

/** Compiles and checks a `when` expression; throws CelCheckError. */
export function compileWhen(source: string): CompiledWhen {
  const size = Buffer.byteLength(source);
  if (size > MAX_WHEN_BYTES) {
    const [line, column] = lineColumn(source, byteIndexToOffset(source, MAX_WHEN_BYTES));
    throw new CelCheckError(line, column, `expression is ${size} bytes; at most ${MAX_WHEN_BYTES} are allowed`);
  }
  let parsed: ParsedExpr & { expr: Expr };
  try {
    parsed = parse(source);
  } catch (err) {
    const loc = (err as { location?: { start?: { line?: number; column?: number } } }).location?.start;
    throw new CelCheckError(loc?.line ?? 1, loc?.column ?? 1, `syntax error: ${syntaxMessage(err)}`);
  }
  const positions = parsed.sourceInfo?.positions ?? {};
  const at = (e: Expr): [number, number] => lineColumn(source, positions[String(e.id)] ?? 0);
  const lits: Literals = { regexes: new Map(), cidrs: new Map(), hosts: new Map(), prefixes: new Map(), strings: new Set() };
  new Checker(at, lits).check(parsed.expr);

  // A trial run cannot be interrupted, but regexes and helpers can check a clock: a loop doing
  // expensive work per step stops at the budget instead of blocking the caller for seconds.
  const clock: TrialClock = { deadline: Infinity, expired: false };
  const env = celEnv({
    variables: VARIABLES,
    funcs: [...STRINGS_FUNCS, ...helperFuncs(lits, clock)],
    re2: {
      compile(pattern: string) {
        if (clock.deadline !== Infinity) tick(clock);
        const re = lits.regexes.get(pattern);
        if (re === undefined) throw new Error("regex was not compiled when the expression was saved");
        return re;
      },
    },
  });
  const run = plan(env, parsed) as unknown as (vars: object) => CelResult;
  const compiled = new Compiled(source, run);
  trial(compiled, lits, clock, at(parsed.expr));
  return compiled;
}

class Compiled implements CompiledWhen {
  readonly source: string;
  private readonly run: (vars: object) => CelResult;
  constructor(source: string, run: (vars: object) => CelResult) {
    this.source = source;
    this.run = run;
  }

  evaluate(req: CelRequest): boolean {
    const r = this.run(req.celVars());
    if (typeof r === "boolean") return r;
    if (isCelError(r)) throw new CelEvalError(r.message, { cause: r });
    throw new CelEvalError(`result is ${describe(r)}, not a bool`, { nonBool: true });
  }
}

interface TrialClock {
  deadline: number;
  expired: boolean;
}

const BUDGET_EXCEEDED = new Error("trial budget exceeded");

function tick(clock: TrialClock): void {
  if (clock.expired || performance.now() > clock.deadline) {
    clock.expired = true;
    throw BUDGET_EXCEEDED;
  }
}

function helperFuncs(lits: Literals, clock: TrialClock) {
  return [
    celFunc("cidr", [STRING, STRING], BOOL, (ip, cidr) => {
      if (clock.deadline !== Infinity) tick(clock);
      return lits.cidrs.get(cidr)!.contains(ip);
    }),
    celFunc("host_match", [STRING, STRING], BOOL, (host, pattern) => {
      if (clock.deadline !== Infinity) tick(clock);
      return hostMatches(lits.hosts.get(pattern)!, host.toLowerCase());
    }),
    celFunc("path_prefix", [STRING, STRING], BOOL, (path, prefix) => {
      if (clock.deadline !== Infinity) tick(clock);
      return matchPathPrefix(lits.prefixes.get(prefix)!, normalizePath(path));
    }),
  ];
}

class Checker {
  private readonly at: (e: Expr) => [number, number];
  private readonly lits: Literals;
  private readonly scope: string[] = [];
  private readonly loops: Expr[] = [];
  private steps = 0;
  constructor(at: (e: Expr) => [number, number], lits: Literals) {
    this.at = at;
    this.lits = lits;
  }

  check(root: Expr): void {
    this.walk(root, 0, 1);
  }

  private fail(e: Expr, reason: string): never {
    const [line, column] = this.at(e);
    throw new CelCheckError(line, column, reason);
  }

  /** `iterations` is how many times this node may run (product of the enclosing loop ranges). */
  private walk(e: Expr, depth: number, iterations: number): void {
    if (depth > MAX_DEPTH) this.fail(e, `expression is nested more than ${MAX_DEPTH} levels deep`);
    this.steps += iterations;
    if (this.steps > MAX_STEPS) {
      this.fail(this.loops[0] ?? e, `too slow: its loops may evaluate over ${MAX_STEPS} steps per request`);
    }
    const k = e.exprKind;
    switch (k.case) {
      case "constExpr":
        if (k.value.constantKind.case === "stringValue") this.lits.strings.add(k.value.constantKind.value);
        return;
      case "identExpr": {
        const name = k.value.name;
        if (name in VARIABLES || TYPE_NAMES.has(name) || this.scope.includes(name)) return;
        this.fail(e, `unknown variable "${name}"`);
        return;
      }
      case "selectExpr":
        if (k.value.operand) this.walk(k.value.operand, depth + 1, iterations);
        return;
      case "callExpr": {
        const call = k.value;
        const fn = call.function;
        if (!ALLOWED_FUNCTIONS.has(fn)) this.fail(e, `unknown function "${fn}"`);
        if (HELPERS.includes(fn)) this.checkHelper(e, fn, call.target, call.args);
        if (fn === "matches") this.checkRegex(e, call.target, call.args);
        if (call.target) this.walk(call.target, depth + 1, iterations);
        for (const a of call.args) this.walk(a, depth + 1, iterations);
        return;
      }
      case "listExpr":
        for (const el of k.value.elements) this.walk(el, depth + 1, iterations);
        return;
      case "structExpr":
        if (k.value.messageName !== "") this.fail(e, `messages are not available (${k.value.messageName})`);
        for (const entry of k.value.entries) {
          if (entry.keyKind.case === "mapKey") this.walk(entry.keyKind.value, depth + 1, iterations);
          if (entry.value) this.walk(entry.value, depth + 1, iterations);
        }
        return;
      case "comprehensionExpr": {
        const c = k.value;
        if (c.iterRange) this.walk(c.iterRange, depth + 1, iterations);
        if (c.accuInit) this.walk(c.accuInit, depth + 1, iterations);
        const range = c.iterRange?.exprKind.case === "listExpr" ? c.iterRange.exprKind.value.elements.length : ASSUMED_RANGE;
        const inner = iterations * Math.max(range, 1);
        const vars = [c.iterVar, c.iterVar2, c.accuVar].filter((v) => v !== "");
        this.scope.push(...vars);
        this.loops.push(e);
        if (c.loopCondition) this.walk(c.loopCondition, depth + 1, inner);
        if (c.loopStep) this.walk(c.loopStep, depth + 1, inner);
        this.loops.pop();
        this.scope.length -= vars.length;
        this.scope.push(c.accuVar);
        if (c.result) this.walk(c.result, depth + 1, iterations);
        this.scope.length -= 1;
        return;
      }
      default:
        this.fail(e, "unsupported expression");
    }
  }

  private literal(call: Expr, arg: Expr | undefined, what: string): { value: string; node: Expr } {
    const k = arg?.exprKind;
    if (arg === undefined || k?.case !== "constExpr" || k.value.constantKind.case !== "stringValue") {
      this.fail(arg ?? call, `${what} must be a string literal`);
    }
    return { value: k.value.constantKind.value, node: arg };
  }

  private checkRegex(e: Expr, target: Expr | undefined, args: Expr[]): void {
    // Only the method form: the replaced `matches` (env option re2) is a method.
    if (target === undefined || args.length !== 1) this.fail(e, 'matches is called as text.matches("pattern")');
    const { value, node } = this.literal(e, args[0], "the pattern of matches()");
    if (this.lits.regexes.has(value)) return;
    try {
      this.lits.regexes.set(value, RE2JS.compile(value));
    } catch (err) {
      this.fail(node, `invalid regular expression: ${(err as Error).message}`);
    }
  }

  private checkHelper(e: Expr, fn: string, target: Expr | undefined, args: Expr[]): void {
    if (target !== undefined || args.length !== 2) this.fail(e, `${fn} is called as ${fn}(value, "literal")`);
    const { value, node } = this.literal(e, args[1], `the second argument of ${fn}()`);
    if (fn === "cidr") {
      const set = new CidrSet();
      const err = set.add(value);
      if (err !== undefined) this.fail(node, `invalid CIDR "${value}": ${err}`);
      this.lits.cidrs.set(value, set);
    } else if (fn === "host_match") {
      const err = validateHostPattern(value);
      if (err !== undefined) this.fail(node, `invalid host pattern "${value}": ${err}`);
      this.lits.hosts.set(value, parseHostPattern(value));
    } else {
      const err = validatePathPrefix(value);
      if (err !== undefined) this.fail(node, `invalid path prefix "${value}": ${err}`);
      this.lits.prefixes.set(value, parsePathPrefix(value));
    }
  }
}

/** Runs the expression on a sample and an empty request: it must give a bool (or an evaluation error) in time. */
function trial(compiled: Compiled, lits: Literals, clock: TrialClock, rootAt: [number, number]): void {
  const names = [...lits.strings].filter((s) => s.length > 0 && s.length <= 256);
  const headers: Record<string, string | string[]> = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) curl/8.5.0",
    accept: "*/*",
    cookie: "session=abc; " + names.filter((n) => !/[;=\s]/.test(n)).map((n) => `${n}=v`).join("; "),
  };
  for (const n of names) if (!(n.toLowerCase() in headers)) headers[n.toLowerCase()] = ["value", "other"];
  const sample: CelRequestInput = {
    method: "GET",
    protocol: "https",
    host: "www.example.com",
    path: "/api/v1/items",
    rawQuery: ["page=1", ...names.map((n) => `${encodeURIComponent(n)}=v`)].join("&"),
    headers,
    clientIp: "192.0.2.10",
  };
  const empty: CelRequestInput = { method: "GET", protocol: "http", host: "", path: "/", rawQuery: "", headers: {}, clientIp: "" };
  const start = performance.now();
  clock.deadline = start + TRIAL_BUDGET_MS;
  // CEL absorbs errors inside macros (`exists` goes on after one), so once the clock expires each
  // step still builds an error: without stack traces that stays cheap.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    for (const input of [empty, sample, sample, sample].slice(0, TRIAL_RUNS + 1)) {
      try {
        compiled.evaluate(new CelRequest(input));
      } catch (err) {
        if (!(err instanceof CelEvalError)) throw err;
        if (err.nonBool) throw new CelCheckError(rootAt[0], rootAt[1], `the expression must be a bool: its ${err.message}`);
      }
      const ms = performance.now() - start;
      if (clock.expired || ms > TRIAL_BUDGET_MS) {
        throw new CelCheckError(rootAt[0], rootAt[1], `too slow: trial evaluations took over ${TRIAL_BUDGET_MS} ms`);
      }
    }
  } finally {
    clock.deadline = Infinity;
    Error.stackTraceLimit = stackTraceLimit;
  }
}

function describe(v: unknown): string {
  if (typeof v === "string") return "a string";
  if (typeof v === "bigint") return "an int";
  if (typeof v === "number") return "a double";
  if (v === null) return "null";
  return "a " + ((v as object).constructor?.name ?? typeof v);
}

function syntaxMessage(err: unknown): string {
  const raw = err instanceof RangeError ? "expression is nested too deeply" : String((err as Error)?.message ?? err);
  const m = raw.replace(/^<input>:\d+:\d+: /, "");
  return m.length > 160 ? m.slice(0, 157) + "..." : m;
}

/** 1-based line and column (in UTF-16 units) of a string offset. */
function lineColumn(source: string, offset: number): [number, number] {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return [line, offset - lineStart + 1];
}

/** The string offset of the character holding UTF-8 byte `byte`. */
function byteIndexToOffset(source: string, byte: number): number {
  let bytes = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3;
    if (bytes > byte) return i;
  }
  return source.length;
}
