import type { ConnectRouter } from "@connectrpc/connect";
import { AuthService } from "../../proto/gen/warren/v1/auth_pb.ts";
import { UserService } from "../../proto/gen/warren/v1/user_pb.ts";
import { TokenService } from "../../proto/gen/warren/v1/token_pb.ts";
import { authService } from "./auth-service.ts";
import { userService } from "./user-service.ts";
import { tokenService } from "./token-service.ts";
import { agentService } from "./agent-service.ts";
import { AgentService } from "../../proto/gen/warren/v1/agent_pb.ts";
import { ProxyService } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { proxyService } from "./proxy-service.ts";
import { ObservabilityService } from "../../proto/gen/warren/v1/observability_pb.ts";
import { observabilityService } from "./observability-service.ts";
import { PolicyService } from "../../proto/gen/warren/v1/policy_pb.ts";
import { policyService } from "./policy-service.ts";
import { TlsService } from "../../proto/gen/warren/v1/tls_pb.ts";
import { tlsService } from "./tls-service.ts";
import type { ApiDeps } from "./deps.ts";

export function apiRoutes(d: ApiDeps): (router: ConnectRouter) => void {
  return (router) => {
    router.service(AuthService, authService(d));
    router.service(UserService, userService(d));
    router.service(TokenService, tokenService(d));
    router.service(AgentService, agentService(d));
    router.service(ProxyService, proxyService(d));
    router.service(ObservabilityService, observabilityService(d));
    router.service(PolicyService, policyService(d));
    router.service(TlsService, tlsService(d));
  };
}
