// One Connect transport to management (same origin: the session cookie rides along, nothing goes
// anywhere else) and a client per service, typed by the generated proto/gen shared with the server.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { AuthService } from "../../../../proto/gen/warren/v1/auth_pb.ts";
import { UserService } from "../../../../proto/gen/warren/v1/user_pb.ts";
import { TokenService } from "../../../../proto/gen/warren/v1/token_pb.ts";
import { AgentService } from "../../../../proto/gen/warren/v1/agent_pb.ts";
import { ProxyService } from "../../../../proto/gen/warren/v1/proxy_pb.ts";
import { ObservabilityService } from "../../../../proto/gen/warren/v1/observability_pb.ts";
import { PolicyService } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { TlsService } from "../../../../proto/gen/warren/v1/tls_pb.ts";

// fetch sends same-origin cookies by default: the HttpOnly session cookie goes with every call.
const transport = createConnectTransport({ baseUrl: location.origin });

function client<T extends DescService>(service: T): Client<T> {
  return createClient(service, transport);
}

export const api = {
  auth: client(AuthService),
  users: client(UserService),
  tokens: client(TokenService),
  agents: client(AgentService),
  proxy: client(ProxyService),
  observability: client(ObservabilityService),
  policy: client(PolicyService),
  tls: client(TlsService),
};
