/**
 * `npm start [-- --config gateway.yaml]`: the gateway. With no config file it runs the built-in demo
 * (loopback only, users alice/bob with password "demo", echo and tone services) and says so loudly.
 * A bad config stops start-up with a message naming the key and line; a busy port names the listener.
 * `--self-signed-cert <dir>` (or `http.tls.selfSigned`) serves HTTPS/WSS with a self-signed pair made once and
 * reused, and says so on every start.
 * SIGINT/SIGTERM: graceful shutdown (new work answered 503, calls ended with BYE, registrations removed);
 * a second signal exits at once.
 */
import { logger } from './log.ts';
import { loadConfigFile } from './config/load.ts';
import { demoConfig } from './config/demo.ts';
import { ConfigError } from './config/config-error.ts';
import { GatewayError } from './errors.ts';
import { startGateway } from './gateway.ts';
import type { GatewayConfig } from './config/schema.ts';
import { join } from 'node:path';
import { CertificateError, prepareSelfSignedTls } from './security/self-signed.ts';

const USAGE = `usage: npm start [-- --config <file.yaml>] [--self-signed-cert <dir>]
  --config <file>            the gateway configuration (docs/configuration.md); CONFIG=<file> works too
  --self-signed-cert <dir>   serve HTTPS/WSS with a self-signed certificate kept in <dir>/cert.pem and
                             <dir>/key.pem (made on first use, reused after; for testing — docs/security.md)
  (no config)                the built-in demo on 127.0.0.1 — users alice and bob, password "demo"`;

function parseArgs(argv: readonly string[]): { configPath: string | undefined; selfSignedDir: string | undefined } {
  let configPath = process.env.CONFIG || undefined;
  let selfSignedDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (arg === '--config' || arg === '-c') {
      configPath = argv[++i];
      if (!configPath) fail(`--config needs a file name\n${USAGE}`, 2);
    } else if (arg.startsWith('--config=')) {
      configPath = arg.slice('--config='.length);
    } else if (arg === '--self-signed-cert') {
      selfSignedDir = argv[++i];
      if (!selfSignedDir) fail(`--self-signed-cert needs a directory\n${USAGE}`, 2);
    } else if (arg.startsWith('--self-signed-cert=')) {
      selfSignedDir = arg.slice('--self-signed-cert='.length);
    } else {
      fail(`unknown option "${arg}"\n${USAGE}`, 2);
    }
  }
  return { configPath, selfSignedDir };
}

/** The configuration with http.tls pointing at a self-signed pair in `dir` (the --self-signed-cert option). */
function withSelfSignedTls(config: GatewayConfig, dir: string): GatewayConfig {
  if (config.http.tls !== undefined && !config.http.tls.selfSigned) {
    fail('--self-signed-cert conflicts with http.tls in the configuration (a real certificate): remove one of them', 2);
  }
  const tls = Object.freeze({ cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), selfSigned: true });
  return Object.freeze({ ...config, http: Object.freeze({ ...config.http, tls }) });
}

function fail(message: string, code: number): never {
  process.stderr.write(`webrtc-sip-gateway: ${message}\n`);
  process.exit(code);
}

const { configPath, selfSignedDir } = parseArgs(process.argv.slice(2));
let config: GatewayConfig;
try {
  config = configPath === undefined ? demoConfig() : loadConfigFile(configPath);
} catch (err) {
  if (err instanceof ConfigError) fail(err.message, 1);
  throw err;
}
if (config.logLevel !== logger.level && process.env.LOG_LEVEL === undefined) logger.level = config.logLevel;
if (selfSignedDir !== undefined) config = withSelfSignedTls(config, selfSignedDir);
const selfSigned = await prepareSelfSignedTls(config, logger).catch((err: unknown) => {
  if (err instanceof CertificateError) fail(err.message, 1);
  throw err;
});
if (selfSigned !== undefined) {
  // Besides the log line: an operator watching the terminal must not miss it.
  process.stderr.write(
    `\n  WARNING: HTTPS/WSS uses a SELF-SIGNED certificate (${selfSigned.certPath}, ${selfSigned.created ? 'new' : 'reused'})\n` +
      `  SHA-256 ${selfSigned.fingerprint256}\n` +
      `  Browsers will warn; open the page once and accept it. For testing only: docs/security.md says how to get a real one.\n\n`,
  );
}

const gateway = await startGateway(config).catch((err: unknown) => {
  if (err instanceof GatewayError) fail(err.message, 1);
  logger.fatal({ err }, 'gateway failed to start');
  process.exit(1);
});

if (configPath === undefined) {
  logger.warn(
    { users: ['alice', 'bob'], password: 'demo', page: gateway.urls.page, sip: gateway.urls.ws },
    'DEMO MODE: built-in users alice and bob with password "demo", loopback only — do not expose this configuration',
  );
  process.stdout.write(
    `\n  webrtc-sip-gateway demo is running\n` +
      `  softphone page:  ${gateway.urls.page}\n` +
      `  SIP over WS:     ${gateway.urls.ws}\n` +
      `  sign in as alice or bob, password "demo"; dial echo, tone, or the other user\n\n`,
  );
}

let signalled = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (signalled) process.exit(1);
  signalled = true;
  logger.info({ signal }, 'shutting down');
  gateway.close().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
