import type { ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { PolicyService, TemplateKind, type CaptchaProviderSchema, type CacheRuleSchema, type PurgeCacheRequest, type RateLimitRuleSchema, type ShaperRuleSchema, type TemplateSchema, type WafRuleSchema } from "../../proto/gen/warren/v1/policy_pb.ts";
import { SAMPLE_VALUES } from "../../proxy/index.ts";
import { ApiError, fieldError } from "../errors.ts";
import { newId } from "../store/ids.ts";
import type { CaptchaProviderRow, RuleRow, RuleTable, TemplateRow, WafRuleRow } from "../store/policy-repo.ts";
import { rateLimitRuleSpecFromJson, rateLimitRuleSpecToJson, validateRateLimitRule } from "../config/validate-rate-limit.ts";
import { shaperRuleSpecFromJson, shaperRuleSpecToJson, validateShaperRule } from "../config/validate-shaper.ts";
import { CACHE_SETTINGS_KEY, cacheRuleSpecFromJson, cacheRuleSpecToJson, cacheSettingsFromJson, cacheSettingsToJson, validateCacheRule, validateCacheSettings } from "../config/validate-cache.ts";
import type { PurgeFilter } from "../../proxy/index.ts";
import { compileCacheSettings } from "../config/compile-cache.ts";
import { routeSpecFromJson } from "../config/validate-route.ts";
import {
  CAPTCHA_KIND_NAMES,
  captchaProviderSpecFromJson,
  captchaProviderSpecToJson,
  validateCaptchaProvider,
  compileTemplateSpec,
  TEMPLATE_KINDS,
  templateSpecFromJson,
  templateSpecToJson,
  validateTemplate,
  validateWafRule,
  wafRuleSpecFromJson,
  wafRuleSpecToJson,
} from "../config/validate-policy.ts";
import { setAuditTarget } from "./context.ts";
import type { ApiDeps } from "./deps.ts";

export function policyService(d: ApiDeps): ServiceImpl<typeof PolicyService> {
  const { snapshots } = d.proxy;
  const repo = d.store.policy;
  const ts = (ms: number) => timestampFromMs(ms);

  const ruleToProto = (r: WafRuleRow): MessageInitShape<typeof WafRuleSchema> => ({
    id: r.id,
    spec: wafRuleSpecFromJson(r.spec),
    createdAt: ts(r.created_at),
    updatedAt: ts(r.updated_at),
  });
  const templateToProto = (t: TemplateRow): MessageInitShape<typeof TemplateSchema> => ({
    id: t.id,
    spec: templateSpecFromJson(t.spec),
    builtIn: t.built_in === 1,
    createdAt: ts(t.created_at),
    updatedAt: ts(t.updated_at),
  });

  // The secret never leaves: the stored spec has none, and secret_key_set says whether one is kept.
  const providerToProto = (p: CaptchaProviderRow): MessageInitShape<typeof CaptchaProviderSchema> => ({
    id: p.id,
    spec: { ...captchaProviderSpecFromJson(p.spec), secretKey: "" },
    secretKeySet: p.secret_key !== "",
    createdAt: ts(p.created_at),
    updatedAt: ts(p.updated_at),
  });
  const mustProvider = (id: string): CaptchaProviderRow => {
    if (id === "") throw fieldError("id", "is required");
    const p = repo.captchaProvider(id);
    if (!p) throw new ApiError("not_found", `id: no captcha provider ${id}`);
    return p;
  };
  const providerKind = (id: string): string | undefined => repo.captchaProvider(id)?.kind;
  const providerNameFree = (name: string, self?: string) => {
    const other = repo.captchaProviderByName(name);
    if (other && other.id !== self) throw new ApiError("already_exists", `spec.name: a captcha provider named "${name}" exists (${other.id})`);
  };
  /** The rules that check with captcha provider `id`. */
  const rulesUsingProvider = (id: string): string[] =>
    repo.waf
      .all()
      .filter((r) => wafRuleSpecFromJson(r.spec).challenge?.captchaProviderId === id)
      .map((r) => r.name);

  const mustTemplate = (id: string): TemplateRow => {
    if (id === "") throw fieldError("id", "is required");
    const t = repo.template(id);
    if (!t) throw new ApiError("not_found", `id: no template ${id}`);
    return t;
  };
  const templateKind = (id: string): TemplateKind | undefined => {
    const t = repo.template(id);
    return t ? templateSpecFromJson(t.spec).kind : undefined;
  };
  const nameFree = (name: string, self?: string) => {
    const other = repo.templateByName(name);
    if (other && other.id !== self) throw new ApiError("already_exists", `spec.name: a template named "${name}" exists (${other.id})`);
  };
  /** The rules whose answers use template `id`. */
  const rulesUsing = (id: string): string[] => [
    ...repo.waf
      .all()
      .filter((r) => {
        const s = wafRuleSpecFromJson(r.spec);
        return s.block?.templateId === id || s.challenge?.templateId === id || s.waitingRoom?.templateId === id;
      })
      .map((r) => r.name),
    ...repo.rateLimits
      .all()
      .filter((r) => rateLimitRuleSpecFromJson(r.spec).response?.templateId === id)
      .map((r) => r.name),
  ];

  const mustIn = (table: RuleTable, what: string, id: string): RuleRow => {
    if (id === "") throw fieldError("id", "is required");
    const r = table.get(id);
    if (!r) throw new ApiError("not_found", `id: no ${what} ${id}`);
    return r;
  };
  /** Rate-limit rules are unique by name: the name is part of the counters' shared namespace. */
  const rateLimitNameFree = (name: string, self?: string) => {
    const other = repo.rateLimits.all().find((r) => r.name === name && r.id !== self);
    if (other) throw new ApiError("already_exists", `spec.name: a rate-limit rule named "${name}" exists (${other.id})`);
  };
  const rateLimitToProto = (r: RuleRow): MessageInitShape<typeof RateLimitRuleSchema> => ({
    id: r.id,
    spec: rateLimitRuleSpecFromJson(r.spec),
    createdAt: ts(r.created_at),
    updatedAt: ts(r.updated_at),
  });
  const cacheRuleToProto = (r: RuleRow): MessageInitShape<typeof CacheRuleSchema> => ({
    id: r.id,
    spec: cacheRuleSpecFromJson(r.spec),
    createdAt: ts(r.created_at),
    updatedAt: ts(r.updated_at),
  });
  /** Route and target filters must name what exists (a typo would silently cache nothing). */
  const cacheFiltersExist = (spec: { routeIds: string[]; targetIds: string[] }) => {
    const routes = d.store.proxy.routes();
    const routeIds = new Set(routes.map((r) => r.id));
    spec.routeIds.forEach((id, i) => {
      if (!routeIds.has(id)) throw fieldError(`spec.route_ids[${i}]`, `no route ${id}`);
    });
    const targetIds = new Set(routes.flatMap((r) => routeSpecFromJson(r.spec).targets.map((t) => t.id)));
    spec.targetIds.forEach((id, i) => {
      if (!targetIds.has(id)) throw fieldError(`spec.target_ids[${i}]`, `no target ${id}`);
    });
  };
  const purgeFilter = (req: PurgeCacheRequest): PurgeFilter => {
    const t = req.target;
    switch (t.case) {
      case "all":
        if (!t.value) throw fieldError("all", "must be true to purge everything");
        return { kind: "all" };
      case "ruleId":
        if (t.value.trim() === "") throw fieldError("rule_id", "is required");
        return { kind: "rule", ruleId: t.value.trim() };
      case "host":
        if (t.value.trim() === "") throw fieldError("host", "is required");
        return { kind: "host", host: t.value.trim().toLowerCase() };
      case "pathPrefix": {
        const p = t.value.trim();
        if (!p.startsWith("/")) throw fieldError("path_prefix", "must start with /");
        return { kind: "path_prefix", host: req.prefixHost.trim().toLowerCase(), pathPrefix: p };
      }
      case "url": {
        const u = t.value.trim();
        if (u === "" || u.startsWith("/") || /^[a-z]+:\/\//i.test(u)) throw fieldError("url", "must be host and path, e.g. app.example.com/a?b=1");
        const slash = u.indexOf("/");
        const host = (slash < 0 ? u : u.slice(0, slash)).toLowerCase();
        return { kind: "url", url: `${host}${slash < 0 ? "/" : u.slice(slash)}` };
      }
      default:
        throw fieldError("target", "say what to purge: all, rule_id, host, path_prefix or url");
    }
  };
  const shaperToProto = (r: RuleRow): MessageInitShape<typeof ShaperRuleSchema> => ({
    id: r.id,
    spec: shaperRuleSpecFromJson(r.spec),
    createdAt: ts(r.created_at),
    updatedAt: ts(r.updated_at),
  });

  return {
    listWafRules() {
      return { rules: repo.waf.all().map(ruleToProto) };
    },

    async createWafRule(req, ctx) {
      const id = newId("waf");
      setAuditTarget(ctx, id);
      const now = d.now();
      const row = await snapshots.write(() => {
        const spec = validateWafRule(req.spec, templateKind, providerKind);
        repo.waf.insert({ id, name: spec.name, priority: spec.priority, spec: wafRuleSpecToJson(spec), created_at: now, updated_at: now });
        return repo.waf.get(id)!;
      });
      return { rule: ruleToProto(row) };
    },

    async updateWafRule(req, ctx) {
      setAuditTarget(ctx, req.id);
      const row = await snapshots.write(() => {
        mustIn(repo.waf, "WAF rule", req.id);
        const spec = validateWafRule(req.spec, templateKind, providerKind);
        repo.waf.update({ id: req.id, name: spec.name, priority: spec.priority, spec: wafRuleSpecToJson(spec), updated_at: d.now() });
        return repo.waf.get(req.id)!;
      });
      return { rule: ruleToProto(row) };
    },

    async deleteWafRule(req, ctx) {
      setAuditTarget(ctx, req.id);
      await snapshots.write(() => {
        mustIn(repo.waf, "WAF rule", req.id);
        repo.waf.delete(req.id);
      });
      return {};
    },

    listTemplates() {
      return { templates: repo.templates().map(templateToProto) };
    },

    async createTemplate(req, ctx) {
      const spec = validateTemplate(req.spec);
      const id = newId("tpl");
      setAuditTarget(ctx, id);
      const now = d.now();
      const row = await snapshots.write(() => {
        nameFree(spec.name);
        repo.insertTemplate({ id, name: spec.name, kind: TEMPLATE_KINDS[spec.kind]!, spec: templateSpecToJson(spec), built_in: 0, created_at: now, updated_at: now });
        return repo.template(id)!;
      });
      return { template: templateToProto(row) };
    },

    async updateTemplate(req, ctx) {
      setAuditTarget(ctx, req.id);
      const spec = validateTemplate(req.spec);
      const row = await snapshots.write(() => {
        const existing = mustTemplate(req.id);
        const before = templateSpecFromJson(existing.spec);
        // Rules name templates by id and rely on their kind.
        if (before.kind !== spec.kind && rulesUsing(req.id).length > 0) throw fieldError("spec.kind", "cannot change while rules use this template");
        nameFree(spec.name, req.id);
        repo.updateTemplate({ id: req.id, name: spec.name, kind: TEMPLATE_KINDS[spec.kind]!, spec: templateSpecToJson(spec), updated_at: d.now() });
        return repo.template(req.id)!;
      });
      return { template: templateToProto(row) };
    },

    async deleteTemplate(req, ctx) {
      setAuditTarget(ctx, req.id);
      await snapshots.write(() => {
        const t = mustTemplate(req.id);
        if (t.built_in === 1) throw new ApiError("failed_precondition", `id: "${t.name}" is built in: edit it instead`);
        const users = rulesUsing(req.id);
        if (users.length > 0) throw new ApiError("failed_precondition", `id: "${t.name}" is used by ${users.length === 1 ? "rule" : "rules"} ${users.map((n) => `"${n}"`).join(", ")}`);
        repo.deleteTemplate(req.id);
      });
      return {};
    },

    listCaptchaProviders() {
      return { providers: repo.captchaProviders().map(providerToProto) };
    },

    async createCaptchaProvider(req, ctx) {
      const spec = validateCaptchaProvider(req.spec, true);
      const id = newId("cap");
      setAuditTarget(ctx, id);
      const now = d.now();
      const row = await snapshots.write(() => {
        providerNameFree(spec.name);
        repo.insertCaptchaProvider({
          id,
          name: spec.name,
          kind: CAPTCHA_KIND_NAMES[spec.kind]!,
          spec: captchaProviderSpecToJson(spec),
          secret_key: spec.secretKey,
          created_at: now,
          updated_at: now,
        });
        return repo.captchaProvider(id)!;
      });
      return { provider: providerToProto(row) };
    },

    async updateCaptchaProvider(req, ctx) {
      setAuditTarget(ctx, req.id);
      const spec = validateCaptchaProvider(req.spec, false);
      const row = await snapshots.write(() => {
        const existing = mustProvider(req.id);
        providerNameFree(spec.name, req.id);
        repo.updateCaptchaProvider({
          id: req.id,
          name: spec.name,
          kind: CAPTCHA_KIND_NAMES[spec.kind]!,
          spec: captchaProviderSpecToJson(spec),
          // Sent empty: keep the stored secret.
          secret_key: spec.secretKey === "" ? existing.secret_key : spec.secretKey,
          updated_at: d.now(),
        });
        return repo.captchaProvider(req.id)!;
      });
      return { provider: providerToProto(row) };
    },

    async deleteCaptchaProvider(req, ctx) {
      setAuditTarget(ctx, req.id);
      await snapshots.write(() => {
        const p = mustProvider(req.id);
        const users = rulesUsingProvider(req.id);
        if (users.length > 0) throw new ApiError("failed_precondition", `id: "${p.name}" is used by ${users.length === 1 ? "rule" : "rules"} ${users.map((n) => `"${n}"`).join(", ")}`);
        repo.deleteCaptchaProvider(req.id);
      });
      return {};
    },

    listRateLimitRules() {
      return { rules: repo.rateLimits.all().map(rateLimitToProto) };
    },

    async createRateLimitRule(req, ctx) {
      const id = newId("rl");
      setAuditTarget(ctx, id);
      const now = d.now();
      const row = await snapshots.write(() => {
        const spec = validateRateLimitRule(req.spec, templateKind);
        rateLimitNameFree(spec.name);
        repo.rateLimits.insert({ id, name: spec.name, priority: spec.priority, spec: rateLimitRuleSpecToJson(spec), created_at: now, updated_at: now });
        return repo.rateLimits.get(id)!;
      });
      return { rule: rateLimitToProto(row) };
    },

    async updateRateLimitRule(req, ctx) {
      setAuditTarget(ctx, req.id);
      const row = await snapshots.write(() => {
        mustIn(repo.rateLimits, "rate-limit rule", req.id);
        const spec = validateRateLimitRule(req.spec, templateKind);
        rateLimitNameFree(spec.name, req.id);
        repo.rateLimits.update({ id: req.id, name: spec.name, priority: spec.priority, spec: rateLimitRuleSpecToJson(spec), updated_at: d.now() });
        return repo.rateLimits.get(req.id)!;
      });
      return { rule: rateLimitToProto(row) };
    },

    async deleteRateLimitRule(req, ctx) {
      setAuditTarget(ctx, req.id);
      await snapshots.write(() => {
        mustIn(repo.rateLimits, "rate-limit rule", req.id);
        repo.rateLimits.delete(req.id);
      });
      return {};
    },

    getRateLimitStoreStatus() {
      const st = d.proxy.rateLimitStatus();
      return { kind: st.kind, target: st.target, healthy: st.healthy, lastError: st.lastError, fallbackDecisions: BigInt(st.fallbackDecisions) };
    },

    listShaperRules() {
      return { rules: repo.shapers.all().map(shaperToProto) };
    },

    async createShaperRule(req, ctx) {
      const id = newId("shp");
      setAuditTarget(ctx, id);
      const now = d.now();
      const row = await snapshots.write(() => {
        const spec = validateShaperRule(req.spec);
        repo.shapers.insert({ id, name: spec.name, priority: spec.priority, spec: shaperRuleSpecToJson(spec), created_at: now, updated_at: now });
        return repo.shapers.get(id)!;
      });
      return { rule: shaperToProto(row) };
    },

    async updateShaperRule(req, ctx) {
      setAuditTarget(ctx, req.id);
      const row = await snapshots.write(() => {
        mustIn(repo.shapers, "shaper", req.id);
        const spec = validateShaperRule(req.spec);
        repo.shapers.update({ id: req.id, name: spec.name, priority: spec.priority, spec: shaperRuleSpecToJson(spec), updated_at: d.now() });
        return repo.shapers.get(req.id)!;
      });
      return { rule: shaperToProto(row) };
    },

    async deleteShaperRule(req, ctx) {
      setAuditTarget(ctx, req.id);
      await snapshots.write(() => {
        mustIn(repo.shapers, "shaper", req.id);
        repo.shapers.delete(req.id);
      });
      return {};
    },

    listCacheRules() {
      return { rules: repo.cacheRules.all().map(cacheRuleToProto) };
    },

    async createCacheRule(req, ctx) {
      const id = newId("cch");
      setAuditTarget(ctx, id);
      const now = d.now();
      const row = await snapshots.write(() => {
        const spec = validateCacheRule(req.spec);
        cacheFiltersExist(spec);
        repo.cacheRules.insert({ id, name: spec.name, priority: spec.priority, spec: cacheRuleSpecToJson(spec), created_at: now, updated_at: now });
        return repo.cacheRules.get(id)!;
      });
      return { rule: cacheRuleToProto(row) };
    },

    async updateCacheRule(req, ctx) {
      setAuditTarget(ctx, req.id);
      const row = await snapshots.write(() => {
        mustIn(repo.cacheRules, "cache rule", req.id);
        const spec = validateCacheRule(req.spec);
        cacheFiltersExist(spec);
        repo.cacheRules.update({ id: req.id, name: spec.name, priority: spec.priority, spec: cacheRuleSpecToJson(spec), updated_at: d.now() });
        return repo.cacheRules.get(req.id)!;
      });
      return { rule: cacheRuleToProto(row) };
    },

    async deleteCacheRule(req, ctx) {
      setAuditTarget(ctx, req.id);
      await snapshots.write(() => {
        mustIn(repo.cacheRules, "cache rule", req.id);
        repo.cacheRules.delete(req.id);
      });
      return {};
    },

    getCacheSettings() {
      return { settings: cacheSettingsFromJson(d.store.proxy.meta(CACHE_SETTINGS_KEY)) };
    },

    async updateCacheSettings(req) {
      const settings = validateCacheSettings(req.settings);
      d.store.proxy.setMeta(CACHE_SETTINGS_KEY, cacheSettingsToJson(settings));
      await d.proxy.cache.configure(compileCacheSettings(settings));
      d.log.info({ settings: compileCacheSettings(settings) }, "cache settings applied");
      return { settings };
    },

    getCacheUsage() {
      const u = d.proxy.cache.usage();
      const tier = (t: { entries: number; bytes: number; budgetBytes: number }) => ({ entries: BigInt(t.entries), bytes: BigInt(t.bytes), budgetBytes: BigInt(t.budgetBytes) });
      return { memory: tier(u.memory), disk: tier(u.disk), hits: BigInt(u.hits), misses: BigInt(u.misses) };
    },

    purgeCache(req, ctx) {
      const filter = purgeFilter(req);
      setAuditTarget(ctx, filter.kind);
      const r = d.proxy.cache.purge(filter);
      d.log.info({ filter, entries: r.entries, bytes: r.bytes }, "cache purged");
      return { entries: BigInt(r.entries), bytes: BigInt(r.bytes) };
    },

    getTemplatePreview(req) {
      const spec = validateTemplate(req.spec);
      const t = compileTemplateSpec(spec);
      return { contentType: t.contentType, rendered: t.render(SAMPLE_VALUES) };
    },
  };
}
