// Response templates (DESIGN.md §5, policy pages): a body with {{placeholder}}s, checked when saved —
// every placeholder known for its kind, the required ones present — and compiled once into parts, so
// rendering is a join. {{name}} is HTML-escaped when the template is HTML; {{{name}}} never is.

export type TemplateKindName = "generic_body" | "challenge_page" | "waiting_room_page";

export interface PlaceholderSet {
  readonly allowed: readonly string[];
  readonly required: readonly string[];
  /** Warren's own HTML: only as {{{name}}}. */
  readonly rawOnly: readonly string[];
}

const COMMON = ["status", "status_text", "message", "request_id", "host", "path", "rule_name"];

/** What each kind of template may and must contain. */
export const TEMPLATE_PLACEHOLDERS: Readonly<Record<TemplateKindName, PlaceholderSet>> = {
  generic_body: { allowed: COMMON, required: [], rawOnly: [] },
  challenge_page: { allowed: [...COMMON, "challenge", "difficulty"], required: ["challenge"], rawOnly: ["challenge"] },
  waiting_room_page: { allowed: [...COMMON, "position", "retry_after", "refresh"], required: ["refresh"], rawOnly: ["refresh"] },
};

export const MAX_TEMPLATE_BYTES = 64 * 1024;
export const DEFAULT_TEMPLATE_CONTENT_TYPE = "text/html; charset=utf-8";

export class TemplateError extends Error {
  constructor(
    message: string,
    /** Offset in the body where the problem is (0 when it is about the whole body). */
    readonly offset: number,
  ) {
    super(message);
    this.name = "TemplateError";
  }
}

type Part = string | { readonly name: string; readonly escape: boolean };

const NAME_RE = /^\s*([a-z_][a-z0-9_]*)\s*$/;
const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

export class CompiledTemplate {
  private constructor(
    readonly contentType: string,
    private readonly parts: readonly Part[],
    /** The placeholders the body uses. */
    readonly uses: ReadonlySet<string>,
  ) {}

  /** Values for missing placeholders render as "". */
  render(values: Readonly<Record<string, string>>): string {
    let out = "";
    for (const p of this.parts) {
      if (typeof p === "string") out += p;
      else {
        const v = values[p.name] ?? "";
        out += p.escape ? escapeHtml(v) : v;
      }
    }
    return out;
  }

  /** Throws TemplateError naming the problem and where it is. */
  static compile(kind: TemplateKindName, contentType: string, body: string): CompiledTemplate {
    if (Buffer.byteLength(body) > MAX_TEMPLATE_BYTES) throw new TemplateError(`must be at most ${MAX_TEMPLATE_BYTES} bytes`, 0);
    const set = TEMPLATE_PLACEHOLDERS[kind];
    const type = contentType.trim() === "" ? DEFAULT_TEMPLATE_CONTENT_TYPE : contentType.trim();
    const html = /^(text\/html|application\/xhtml\+xml)\b/i.test(type);
    const parts: Part[] = [];
    const uses = new Set<string>();
    let i = 0;
    while (i < body.length) {
      const open = body.indexOf("{{", i);
      if (open < 0) break;
      const raw = body.startsWith("{{{", open);
      const close = body.indexOf(raw ? "}}}" : "}}", open);
      if (close < 0) throw new TemplateError(`an unclosed ${raw ? "{{{" : "{{"} at offset ${open}`, open);
      const inner = body.slice(open + (raw ? 3 : 2), close);
      const m = NAME_RE.exec(inner);
      if (!m) throw new TemplateError(`${JSON.stringify(body.slice(open, close + (raw ? 3 : 2)))} at offset ${open} is not a placeholder (letters, digits and _)`, open);
      const name = m[1]!;
      if (!set.allowed.includes(name)) throw new TemplateError(`unknown placeholder {{${name}}} at offset ${open} (known: ${set.allowed.join(", ")})`, open);
      if (!raw && set.rawOnly.includes(name)) throw new TemplateError(`{{${name}}} at offset ${open} is HTML: write {{{${name}}}}`, open);
      if (open > i) parts.push(body.slice(i, open));
      parts.push({ name, escape: html && !raw });
      uses.add(name);
      i = close + (raw ? 3 : 2);
    }
    if (i < body.length) parts.push(body.slice(i));
    const missing = set.required.filter((r) => !uses.has(r));
    if (missing.length > 0) throw new TemplateError(`must contain ${missing.map((r) => (set.rawOnly.includes(r) ? `{{{${r}}}}` : `{{${r}}}`)).join(", ")}`, 0);
    return new CompiledTemplate(type, parts, uses);
  }
}

/** Sample values for previews and save-time test renders. */
export const SAMPLE_VALUES: Readonly<Record<string, string>> = {
  status: "403",
  status_text: "Forbidden",
  message: "The request was blocked by a security rule.",
  request_id: "3f2a9c1e-1",
  host: "app.example.com",
  path: "/admin/<script>",
  rule_name: "block admin writes",
  challenge: '<form class="warren-challenge"><p role="status">Checking your browser…</p></form>',
  difficulty: "16",
  position: "3",
  retry_after: "5",
  refresh: '<meta http-equiv="refresh" content="5">',
};
