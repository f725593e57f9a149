import { AuthService } from "../../proto/gen/warren/v1/auth_pb.ts";
import { UserService } from "../../proto/gen/warren/v1/user_pb.ts";
import { TokenService } from "../../proto/gen/warren/v1/token_pb.ts";
import { AgentService } from "../../proto/gen/warren/v1/agent_pb.ts";
import { ProxyService } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { ObservabilityService } from "../../proto/gen/warren/v1/observability_pb.ts";
import { PolicyService } from "../../proto/gen/warren/v1/policy_pb.ts";
import { TlsService } from "../../proto/gen/warren/v1/tls_pb.ts";
import type { DescService } from "@bufbuild/protobuf";

/**
 * What each RPC requires. `public`: no credentials. `authenticated`: any valid caller.
 * `read`: viewers and admins. `admin`: admins only. `agent`: the handler checks agent credentials. A method missing from this table is refused
 * (fail closed), and a unit test checks every service method is listed.
 */
export type Access = "public" | "authenticated" | "read" | "admin" | "agent";

export interface MethodPolicy {
  readonly access: Access;
  /** Writes get an audit row; so do security events such as login and setup. */
  readonly audited: boolean;
}

const admin: MethodPolicy = { access: "admin", audited: true };
const read: MethodPolicy = { access: "read", audited: false };

export const METHOD_POLICIES: ReadonlyMap<string, MethodPolicy> = new Map<string, MethodPolicy>([
  ["warren.v1.AuthService/GetSetupState", { access: "public", audited: false }],
  ["warren.v1.AuthService/SetupAdmin", { access: "public", audited: true }],
  ["warren.v1.AuthService/Login", { access: "public", audited: true }],
  ["warren.v1.AuthService/Logout", { access: "authenticated", audited: true }],
  ["warren.v1.AuthService/GetCurrentUser", { access: "authenticated", audited: false }],
  ["warren.v1.AuthService/GetServerInfo", { access: "admin", audited: false }],

  ["warren.v1.UserService/ListUsers", read],
  ["warren.v1.UserService/CreateUser", admin],
  ["warren.v1.UserService/UpdateUser", admin],
  ["warren.v1.UserService/DeleteUser", admin],
  // Anyone may change their own password; the handler keeps other users' passwords to admins.
  ["warren.v1.UserService/ChangePassword", { access: "authenticated", audited: true }],

  ["warren.v1.TokenService/ListTokens", read],
  ["warren.v1.TokenService/CreateToken", admin],
  ["warren.v1.TokenService/DeleteToken", admin],

  ["warren.v1.AgentService/CreateAgent", admin],
  ["warren.v1.AgentService/ListAgents", read],
  ["warren.v1.AgentService/GetAgent", read],
  ["warren.v1.AgentService/UpdateAgent", admin],
  ["warren.v1.AgentService/RotateAgentToken", admin],
  ["warren.v1.AgentService/DeleteAgent", admin],
  ["warren.v1.AgentService/GetInstallSnippet", read],
  ["warren.v1.AgentService/Enroll", { access: "agent", audited: true }],

  ["warren.v1.ProxyService/GetProxyConfig", read],
  ["warren.v1.ProxyService/CreateListener", admin],
  ["warren.v1.ProxyService/UpdateListener", admin],
  ["warren.v1.ProxyService/DeleteListener", admin],
  ["warren.v1.ProxyService/EnableListener", admin],
  ["warren.v1.ProxyService/DisableListener", admin],
  ["warren.v1.ProxyService/CreateRoute", admin],
  ["warren.v1.ProxyService/UpdateRoute", admin],
  ["warren.v1.ProxyService/DeleteRoute", admin],

  ["warren.v1.ObservabilityService/ListRequestEvents", read],
  ["warren.v1.ObservabilityService/GetRequestSummary", read],

  ["warren.v1.PolicyService/ListWafRules", read],
  ["warren.v1.PolicyService/CreateWafRule", admin],
  ["warren.v1.PolicyService/UpdateWafRule", admin],
  ["warren.v1.PolicyService/DeleteWafRule", admin],
  ["warren.v1.PolicyService/ListTemplates", read],
  ["warren.v1.PolicyService/CreateTemplate", admin],
  ["warren.v1.PolicyService/UpdateTemplate", admin],
  ["warren.v1.PolicyService/DeleteTemplate", admin],
  ["warren.v1.PolicyService/GetTemplatePreview", read],
  ["warren.v1.PolicyService/ListCaptchaProviders", read],
  ["warren.v1.PolicyService/CreateCaptchaProvider", admin],
  ["warren.v1.PolicyService/UpdateCaptchaProvider", admin],
  ["warren.v1.PolicyService/DeleteCaptchaProvider", admin],
  ["warren.v1.PolicyService/ListRateLimitRules", read],
  ["warren.v1.PolicyService/CreateRateLimitRule", admin],
  ["warren.v1.PolicyService/UpdateRateLimitRule", admin],
  ["warren.v1.PolicyService/DeleteRateLimitRule", admin],
  ["warren.v1.PolicyService/GetRateLimitStoreStatus", read],
  ["warren.v1.PolicyService/ListShaperRules", read],
  ["warren.v1.PolicyService/CreateShaperRule", admin],
  ["warren.v1.PolicyService/UpdateShaperRule", admin],
  ["warren.v1.PolicyService/DeleteShaperRule", admin],
  ["warren.v1.PolicyService/ListCacheRules", read],
  ["warren.v1.PolicyService/CreateCacheRule", admin],
  ["warren.v1.PolicyService/UpdateCacheRule", admin],
  ["warren.v1.PolicyService/DeleteCacheRule", admin],
  ["warren.v1.PolicyService/GetCacheSettings", read],
  ["warren.v1.PolicyService/UpdateCacheSettings", admin],
  ["warren.v1.PolicyService/GetCacheUsage", read],
  ["warren.v1.PolicyService/PurgeCache", admin],
  ["warren.v1.TlsService/ListCertificates", read],
  ["warren.v1.TlsService/GetCertificate", read],
  ["warren.v1.TlsService/UploadCertificate", admin],
  ["warren.v1.TlsService/AddCertificateFiles", admin],
  ["warren.v1.TlsService/GenerateSelfSignedCertificate", admin],
  ["warren.v1.TlsService/RequestAcmeCertificate", admin],
  ["warren.v1.TlsService/RenewCertificate", admin],
  ["warren.v1.TlsService/DeleteCertificate", admin],
  ["warren.v1.TlsService/ListListenerTls", read],
  ["warren.v1.TlsService/ListAcmeAccounts", read],
  ["warren.v1.TlsService/CreateAcmeAccount", admin],
  ["warren.v1.TlsService/DeleteAcmeAccount", admin],
  ["warren.v1.TlsService/ListDnsCredentials", read],
  ["warren.v1.TlsService/CreateDnsCredential", admin],
  ["warren.v1.TlsService/UpdateDnsCredential", admin],
  ["warren.v1.TlsService/DeleteDnsCredential", admin],
]);

export const SERVICES: readonly DescService[] = [AuthService, UserService, TokenService, AgentService, ProxyService, ObservabilityService, PolicyService, TlsService];

const DENY: MethodPolicy = { access: "admin", audited: true };

export function policyFor(serviceTypeName: string, methodName: string): MethodPolicy {
  return METHOD_POLICIES.get(`${serviceTypeName}/${methodName}`) ?? DENY;
}
