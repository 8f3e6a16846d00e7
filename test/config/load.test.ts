import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/config-error.ts';

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration loading', () => {
  it('gives the defaults for an empty file', () => {
    const cfg = parseConfig('', 'empty.yaml', {});
    expect(cfg.http).toMatchObject({ host: '127.0.0.1', port: 8080, wsPath: '/sip' });
    expect(cfg.sip.listeners.map((l) => `${l.protocol}:${l.port}`)).toEqual(['udp:5060', 'tcp:5060']);
    expect(cfg.media.ports).toEqual({ min: 30000, max: 39999 });
    expect(cfg.sip.timers).toEqual({ t1: 500, t2: 4000, t4: 5000 });
  });

  it('names an unknown key and its line', () => {
    const err = problemsOf('http:\n  port: 8080\n  prot: 9\n');
    expect(err.problems).toEqual([{ key: 'http.prot', message: 'unknown key "prot"', line: 3, column: 3 }]);
    expect(err.message).toContain('http.prot (line 3, column 3)');
  });

  it('names a bad value inside a list with its index and line', () => {
    const err = problemsOf('trunks:\n  - name: carrier\n    host: sip.example.net\n    port: 99999\n');
    expect(err.problems[0]).toMatchObject({ key: 'trunks[0].port', line: 4 });
  });

  it('refuses a user without any secret and an outbound route to an unknown trunk', () => {
    const err = problemsOf('users:\n  - name: carol\nroutes:\n  outbound:\n    - match: "\\\\+?[0-9]+"\n      trunk: nowhere\n');
    expect(err.problems.map((p) => p.key).sort()).toEqual(['routes.outbound[0].trunk', 'users[0]']);
  });

  it('refuses an invalid regular expression in a dial pattern', () => {
    const err = problemsOf('users:\n  - name: carol\n    password: x\n    dialPatterns: ["(unclosed"]\n');
    expect(err.problems[0]).toMatchObject({ key: 'users[0].dialPatterns[0]', message: 'expected a valid regular expression' });
  });

  it('takes secrets from the environment and names a missing variable', () => {
    const text = 'trunks:\n  - name: carrier\n    host: 127.0.0.1\n    password: ${TRUNK_SECRET}\n';
    expect(parseConfig(text, 't.yaml', { TRUNK_SECRET: 's3cret' }).trunks[0]!.password).toBe('s3cret');
    const err = problemsOf(text, {});
    expect(err.problems[0]).toMatchObject({ key: 'trunks[0].password', message: 'environment variable TRUNK_SECRET is not set', line: 4 });
  });

  it('reports YAML syntax errors with their line', () => {
    const err = problemsOf('http:\n  port: [8080\n');
    expect(err.problems[0]!.key).toBe('(YAML syntax)');
    expect(err.problems[0]!.line).toBeGreaterThan(0);
  });

  it('freezes the result', () => {
    const cfg = parseConfig('users:\n  - name: a\n    password: b\n', 'x', {});
    expect(Object.isFrozen(cfg.users[0])).toBe(true);
  });

  it('refuses a duplicated user and a registration without credentials', () => {
    const err = problemsOf(
      'users:\n  - {name: a, password: x}\n  - {name: a, password: y}\ntrunks:\n  - name: t\n    host: 127.0.0.1\n    register: {enabled: true}\n',
    );
    expect(err.problems.map((p) => p.key).sort()).toEqual(['trunks[0].register', 'users[1].name']);
  });
});

describe('built-in demo configuration', () => {
  it('is valid, loopback-only, with alice and bob and the echo/tone services', async () => {
    const { demoConfig } = await import('../../src/config/demo.ts');
    const cfg = demoConfig();
    expect(cfg.http.host).toBe('127.0.0.1');
    expect(cfg.sip.listeners.every((l) => l.host === '127.0.0.1')).toBe(true);
    expect(cfg.media.bindAddress).toBe('127.0.0.1');
    expect(cfg.users.map((u) => [u.name, u.password])).toEqual([['alice', 'demo'], ['bob', 'demo']]);
    expect(cfg.services).toMatchObject({ enabled: true, echo: 'echo', tone: 'tone' });
  });
});
