/**
 * A gateway front end wired the way the B2BUA wires the defences (see docs/security.md, "Wiring"): a real SipStack
 * (UDP, TCP, WS on loopback, port 0) with a SipGuard in its transport layer, the real Registrar and DigestServer
 * reporting failures to the guard, and RequestAuthenticator for INVITE (flow token, Bearer token or digest).
 * INVITEs that authenticate are answered 480 (there is no B2BUA behind this front end) after the destination
 * check for token identities (403 when the token does not allow it).
 */
import { SipStack } from '../../../src/signaling/sip-stack.ts';
import { createResponseTo } from '../../../src/signaling/message.ts';
import { DigestServer, type Ha1Lookup } from '../../../src/signaling/auth/digest-server.ts';
import { computeHa1 } from '../../../src/signaling/auth/digest.ts';
import { LocationService } from '../../../src/signaling/registrar/location-service.ts';
import { Registrar } from '../../../src/signaling/registrar/registrar.ts';
import { authorizeDestination, type TokenOptions } from '../../../src/signaling/auth/token.ts';
import { uriUserDecoded, parseUri, isSipUri } from '../../../src/signaling/uri.ts';
import { newTag } from '../../../src/signaling/transaction/branch.ts';
import { SipGuard } from '../../../src/security/sip-guard.ts';
import { RequestAuthenticator } from '../../../src/security/request-auth.ts';
import { tokenUpgradeAuthorizer } from '../../../src/security/token-http.ts';

export const REALM = 'gw.test';
export const PASSWORDS: ReadonlyMap<string, string> = new Map([['alice', 'correct horse'], ['bob', 'battery staple']]);

export interface GuardedGatewayOptions {
  guard: SipGuard;
  token?: TokenOptions;
  wsIdleTimeoutMs?: number;
  maxConnectionsPerAddress?: number;
}

export async function startGuardedGateway(options: GuardedGatewayOptions) {
  const { guard } = options;
  const digest = new DigestServer({ realm: REALM });
  const lookup: Ha1Lookup = (user, realm, algorithm) => {
    const password = PASSWORDS.get(user);
    return password === undefined ? undefined : computeHa1(algorithm, user, realm, password);
  };
  const recordFailure = guard.recordFailure.bind(guard);
  const registrar = new Registrar({ location: new LocationService(), digest, lookup, onAuthFailure: (source) => recordFailure(source, 'auth') });
  const auth = new RequestAuthenticator({ digest, lookup, token: options.token, recordFailure });
  const stack = new SipStack({
    userAgent: 'guarded-gateway-test',
    listeners: [
      { protocol: 'UDP', host: '127.0.0.1', port: 0 },
      { protocol: 'TCP', host: '127.0.0.1', port: 0 },
    ],
    http: {
      host: '127.0.0.1',
      port: 0,
      wsPath: '/sip',
      authorizeUpgrade: tokenUpgradeAuthorizer({ token: options.token, onFailure: recordFailure }),
    },
    limits: { maxConnectionsPerAddress: options.maxConnectionsPerAddress },
    transport: { guard, wsIdleTimeoutMs: options.wsIdleTimeoutMs },
  });
  const registered: string[] = [];
  stack.setTransactionUser({
    methods: ['REGISTER', 'INVITE'],
    onRequest: (request, transaction, channel) => {
      const source = channel.remote.address;
      const flowIdentity = stack.transport.flowIdentity(channel.flowId);
      if (request.method === 'REGISTER') {
        void auth.authenticateToken(request, { source, flowIdentity, header: 'authorization' }).then((byToken) => {
          if (byToken !== undefined && !byToken.ok) {
            transaction.respond(auth.challenge(request, byToken, 'authorization'));
            return;
          }
          // Digest REGISTERs go to the registrar as they are (it challenges and reports failures itself); a token
          // identity is handed over as pre-authenticated.
          const response = registrar.handle(request, { flowId: channel.flowId, source, preAuthenticatedUser: byToken?.user });
          if (response.status === 200) registered.push(byToken?.user ?? 'digest');
          transaction.respond(response);
        });
        return;
      }
      void auth.authenticate(request, { source, flowIdentity, header: 'proxy-authorization' }).then((result) => {
        if (!result.ok) {
          transaction.respond(auth.challenge(request, result, 'proxy-authorization'));
          return;
        }
        const uri = parseUri(request.uri);
        const dialled = isSipUri(uri) ? (uriUserDecoded(uri) ?? '') : '';
        const directory = { isUser: (n: string) => PASSWORDS.has(n), isService: (n: string) => n === 'echo' || n === 'tone' };
        if (result.identity !== undefined && !authorizeDestination(result.identity, dialled, directory)) {
          recordFailure(source, 'forbidden');
          transaction.respond(createResponseTo(request, 403, 'Forbidden', newTag()));
          return;
        }
        transaction.respond(createResponseTo(request, 480, 'Temporarily Unavailable', newTag()));
      });
    },
  });
  await stack.start();
  return {
    stack,
    guard,
    registered,
    udpPort: stack.port('UDP'),
    tcpPort: stack.port('TCP'),
    wsUrl: `ws://127.0.0.1:${stack.port('WS')}/sip`,
    close: () => stack.close(),
  };
}
