/**
 * Long fuzz campaigns outside CI:
 *
 *   npm run fuzz                          every target, 1,000,000 inputs each (a random seed per target)
 *   node scripts/fuzz.ts --target sdp --count 1000000 [--seed 42]
 *   node scripts/fuzz.ts --target all --ci     every target at its CI count and seed
 *   node scripts/fuzz.ts --list
 *
 * Prints one line per target with the count, the seed and the outcomes; on a crash it prints the failing input
 * with the command that reproduces it and exits 1. Targets: test/fuzz/targets/index.ts. The ng protocol's fuzzing
 * lives in test/ng/fuzz.test.ts (run it with FUZZ_ITERATIONS unset; it is not a harness target).
 */
import { FUZZ_TARGETS } from '../test/fuzz/targets/index.ts';
import { FuzzFailure, formatStats } from '../test/fuzz/harness.ts';

/** What `npm run fuzz` runs per target when no count is given. */
const CAMPAIGN_COUNT = 1_000_000;

const USAGE = `usage: node scripts/fuzz.ts [--target <name|all>] [--count N | --ci] [--seed N] | --list
  default: --target all --count ${CAMPAIGN_COUNT}; --ci: each target's CI count and seed
  targets: ${Object.keys(FUZZ_TARGETS).join(', ')}`;

function fail(message: string, code: number): never {
  process.stderr.write(`fuzz: ${message}\n`);
  process.exit(code);
}

let target: string | undefined;
let count: number | undefined;
let seed: number | undefined;
let ci = false;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]!;
  const value = (): string => argv[++i] ?? fail(`${arg} needs a value\n${USAGE}`, 2);
  if (arg === '--target' || arg === '-t') target = value();
  else if (arg === '--count' || arg === '-n') count = Number(value());
  else if (arg === '--seed' || arg === '-s') seed = Number(value()) >>> 0;
  else if (arg === '--ci') ci = true;
  else if (arg === '--list') {
    for (const [name, t] of Object.entries(FUZZ_TARGETS)) process.stdout.write(`${name.padEnd(14)} CI ${String(t.ciCount).padStart(7)}  ${t.description}\n`);
    process.exit(0);
  } else if (arg === '--help' || arg === '-h') {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  } else fail(`unknown option "${arg}"\n${USAGE}`, 2);
}
target ??= 'all';
if (count !== undefined && ci) fail('--count and --ci exclude each other', 2);
if (count !== undefined && (!Number.isInteger(count) || count < 1)) fail('--count must be a positive integer', 2);
const names = target === 'all' ? Object.keys(FUZZ_TARGETS) : [target];
let total = 0;
for (const name of names) {
  const entry = FUZZ_TARGETS[name];
  if (entry === undefined) fail(`unknown target "${name}"\n${USAGE}`, 2);
  const cpu = process.cpuUsage();
  try {
    const stats = await entry.run({
      iterations: ci ? entry.ciCount : (count ?? CAMPAIGN_COUNT),
      seed: seed ?? (ci ? entry.ciSeed : Math.floor(Math.random() * 2 ** 32)),
    });
    const used = process.cpuUsage(cpu);
    total += stats.iterations;
    process.stdout.write(`${formatStats(stats)} (${((used.user + used.system) / 1e6).toFixed(1)} s CPU)\n`);
  } catch (error) {
    if (error instanceof FuzzFailure || (error instanceof Error && error.name === 'FuzzFailure')) fail(error.message, 1);
    throw error;
  }
}
if (names.length > 1) process.stdout.write(`fuzz: ${names.length} targets, ${total} inputs, no failure\n`);
