/**
 * `npm run token -- --user alice --allow echo --ttl 300`: mints a token for an embedded page (see
 * src/signaling/auth/token.ts) and prints it on stdout, one line, for scripts. The secret comes from the
 * environment (GATEWAY_TOKEN_SECRET) or from the configuration file's `security.tokenSecret`.
 */
import { loadConfigFile } from './config/load.ts';
import { ConfigError } from './config/config-error.ts';
import { TokenError, mintToken } from './signaling/auth/token.ts';

const USAGE = `usage: npm run token -- --user <name> [--allow <pattern>]... [--ttl <seconds>] [--config <file.yaml>] [--json]
  --user <name>       the SIP user the token speaks for (sub)
  --allow <pattern>   a destination it may call: a regular expression matched against the whole number/user,
                      or @users / @services; repeat for more (none: register and receive calls only)
  --ttl <seconds>     lifetime (default security.tokenTtl, else 300; at most security.tokenMaxTtl, else 3600)
  --config <file>     read security.tokenSecret and the TTL limits from this configuration (CONFIG=<file> too)
  --json              print {"token", "user", "destinations", "expiresAt"} instead of the bare token
  The secret is GATEWAY_TOKEN_SECRET when set, else security.tokenSecret from the configuration.`;

interface Args {
  user: string | undefined;
  allow: string[];
  ttl: number | undefined;
  configPath: string | undefined;
  json: boolean;
}

function fail(message: string, code: number): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(code);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { user: undefined, allow: [], ttl: undefined, configPath: process.env.CONFIG || undefined, json: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined) fail(`${flag} needs a value\n${USAGE}`, 2);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const next = (): string => inline ?? value(++i, flag);
    switch (flag) {
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      case '--user':
        args.user = next();
        break;
      case '--allow':
        args.allow.push(next());
        break;
      case '--ttl': {
        const text = next();
        if (!/^\d+$/.test(text)) fail(`--ttl must be a whole number of seconds, got "${text}"`, 2);
        args.ttl = Number(text);
        break;
      }
      case '--config':
      case '-c':
        args.configPath = next();
        break;
      case '--json':
        args.json = true;
        break;
      default:
        fail(`unknown option "${arg}"\n${USAGE}`, 2);
    }
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
if (args.user === undefined) fail(`--user is required\n${USAGE}`, 2);

let secret = process.env.GATEWAY_TOKEN_SECRET || undefined;
let defaultTtlSeconds: number | undefined;
let maxTtlSeconds: number | undefined;
if (args.configPath !== undefined) {
  try {
    const config = loadConfigFile(args.configPath);
    secret ??= config.security.tokenSecret;
    defaultTtlSeconds = config.security.tokenTtl;
    maxTtlSeconds = config.security.tokenMaxTtl;
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 1);
    throw error;
  }
}
if (secret === undefined) fail('no secret: set GATEWAY_TOKEN_SECRET, or pass --config with security.tokenSecret', 1);

try {
  const { token, identity } = await mintToken(
    { user: args.user, destinations: args.allow, ttlSeconds: args.ttl },
    { secret, defaultTtlSeconds, maxTtlSeconds },
  );
  process.stdout.write(
    args.json
      ? `${JSON.stringify({ token, user: identity.user, destinations: identity.destinations, expiresAt: new Date(identity.expiresAt).toISOString() })}\n`
      : `${token}\n`,
  );
} catch (error) {
  if (error instanceof TokenError) fail(error.message, 1);
  throw error;
}
