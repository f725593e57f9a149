import type { Db } from "./database.ts";
import type { SecretBox } from "../secrets/keyring.ts";
import { captchaSecretAad } from "./secret-columns.ts";

export interface TemplateRow {
  id: string;
  name: string;
  kind: string;
  /** TemplateSpec as proto JSON, validated before it is written. */
  spec: string;
  built_in: 0 | 1;
  created_at: number;
  updated_at: number;
}

/** A policy rule of any kind: its spec (proto JSON, validated before it is written) and its order. */
export interface RuleRow {
  id: string;
  name: string;
  priority: number;
  spec: string;
  created_at: number;
  updated_at: number;
}

export type WafRuleRow = RuleRow;
export type RateLimitRuleRow = RuleRow;
export type ShaperRuleRow = RuleRow;

/** One table of rules (waf_rules, rate_limit_rules, shaper_rules, cache_rules): the same columns and order. */
export class RuleTable {
  private readonly s;
  constructor(db: Db, table: "waf_rules" | "rate_limit_rules" | "shaper_rules" | "cache_rules") {
    this.s = {
      all: db.prepare<[], RuleRow>(`SELECT * FROM ${table} ORDER BY priority, id`),
      one: db.prepare<[string], RuleRow>(`SELECT * FROM ${table} WHERE id = ?`),
      insert: db.prepare(`INSERT INTO ${table} (id, name, priority, spec, created_at, updated_at) VALUES (@id, @name, @priority, @spec, @created_at, @updated_at)`),
      update: db.prepare(`UPDATE ${table} SET name = @name, priority = @priority, spec = @spec, updated_at = @updated_at WHERE id = @id`),
      delete: db.prepare<[string]>(`DELETE FROM ${table} WHERE id = ?`),
    };
  }
  /** In evaluation order: priority, then id. */
  all(): RuleRow[] {
    return this.s.all.all();
  }
  get(id: string): RuleRow | undefined {
    return this.s.one.get(id);
  }
  insert(row: RuleRow): void {
    this.s.insert.run(row);
  }
  update(row: Omit<RuleRow, "created_at">): void {
    this.s.update.run(row);
  }
  delete(id: string): boolean {
    return this.s.delete.run(id).changes > 0;
  }
}

export interface CaptchaProviderRow {
  id: string;
  name: string;
  kind: string;
  /** CaptchaProviderSpec as proto JSON without the secret key. */
  spec: string;
  /** Sealed at rest (secret-columns.ts), plaintext in rows this repo returns; never returned by the API or logged. */
  secret_key: string;
  created_at: number;
  updated_at: number;
}

/** WAF rules and response templates: the policy aggregate (written through SnapshotService). */
export class PolicyRepo {
  private readonly s;
  readonly waf: RuleTable;
  readonly rateLimits: RuleTable;
  readonly shapers: RuleTable;
  readonly cacheRules: RuleTable;
  constructor(
    db: Db,
    private readonly box: SecretBox,
  ) {
    this.cacheRules = new RuleTable(db, "cache_rules");
    this.waf = new RuleTable(db, "waf_rules");
    this.rateLimits = new RuleTable(db, "rate_limit_rules");
    this.shapers = new RuleTable(db, "shaper_rules");
    this.s = {
      templates: db.prepare<[], TemplateRow>("SELECT * FROM templates ORDER BY name"),
      template: db.prepare<[string], TemplateRow>("SELECT * FROM templates WHERE id = ?"),
      templateByName: db.prepare<[string], TemplateRow>("SELECT * FROM templates WHERE name = ?"),
      insertTemplate: db.prepare("INSERT INTO templates (id, name, kind, spec, built_in, created_at, updated_at) VALUES (@id, @name, @kind, @spec, @built_in, @created_at, @updated_at)"),
      updateTemplate: db.prepare("UPDATE templates SET name = @name, kind = @kind, spec = @spec, updated_at = @updated_at WHERE id = @id"),
      deleteTemplate: db.prepare<[string]>("DELETE FROM templates WHERE id = ?"),
      captchaProviders: db.prepare<[], CaptchaProviderRow>("SELECT * FROM captcha_providers ORDER BY name"),
      captchaProvider: db.prepare<[string], CaptchaProviderRow>("SELECT * FROM captcha_providers WHERE id = ?"),
      captchaProviderByName: db.prepare<[string], CaptchaProviderRow>("SELECT * FROM captcha_providers WHERE name = ?"),
      insertCaptchaProvider: db.prepare(
        "INSERT INTO captcha_providers (id, name, kind, spec, secret_key, created_at, updated_at) VALUES (@id, @name, @kind, @spec, @secret_key, @created_at, @updated_at)",
      ),
      updateCaptchaProvider: db.prepare("UPDATE captcha_providers SET name = @name, kind = @kind, spec = @spec, secret_key = @secret_key, updated_at = @updated_at WHERE id = @id"),
      deleteCaptchaProvider: db.prepare<[string]>("DELETE FROM captcha_providers WHERE id = ?"),
    };
  }

  templates(): TemplateRow[] {
    return this.s.templates.all();
  }
  template(id: string): TemplateRow | undefined {
    return this.s.template.get(id);
  }
  templateByName(name: string): TemplateRow | undefined {
    return this.s.templateByName.get(name);
  }
  insertTemplate(row: TemplateRow): void {
    this.s.insertTemplate.run(row);
  }
  updateTemplate(row: Omit<TemplateRow, "created_at" | "built_in">): void {
    this.s.updateTemplate.run(row);
  }
  deleteTemplate(id: string): boolean {
    return this.s.deleteTemplate.run(id).changes > 0;
  }
  private openCaptcha = (row: CaptchaProviderRow | undefined): CaptchaProviderRow | undefined =>
    row && { ...row, secret_key: this.box.open(row.secret_key, captchaSecretAad(row.id)) };

  captchaProviders(): CaptchaProviderRow[] {
    return this.s.captchaProviders.all().map((r) => this.openCaptcha(r)!);
  }
  captchaProvider(id: string): CaptchaProviderRow | undefined {
    return this.openCaptcha(this.s.captchaProvider.get(id));
  }
  captchaProviderByName(name: string): CaptchaProviderRow | undefined {
    return this.openCaptcha(this.s.captchaProviderByName.get(name));
  }
  insertCaptchaProvider(row: CaptchaProviderRow): void {
    this.s.insertCaptchaProvider.run({ ...row, secret_key: this.box.seal(row.secret_key, captchaSecretAad(row.id)) });
  }
  updateCaptchaProvider(row: Omit<CaptchaProviderRow, "created_at">): void {
    this.s.updateCaptchaProvider.run({ ...row, secret_key: this.box.seal(row.secret_key, captchaSecretAad(row.id)) });
  }
  deleteCaptchaProvider(id: string): boolean {
    return this.s.deleteCaptchaProvider.run(id).changes > 0;
  }
}
