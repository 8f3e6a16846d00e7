import { GatewayError } from '../errors.ts';

export interface ConfigProblem {
  /** Dotted key path, e.g. `trunks[0].port`. */
  key: string;
  message: string;
  /** 1-based position in the file, when the key (or its nearest parent) is in it. */
  line?: number;
  column?: number;
}

/** A configuration that must stop start-up; the message lists every problem with its key and line. */
export class ConfigError extends GatewayError {
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: ConfigProblem[]) {
    const lines = problems.map((p) => {
      const where = p.line === undefined ? '' : ` (line ${p.line}, column ${p.column ?? 1})`;
      return `  ${p.key}${where}: ${p.message}`;
    });
    super('CONFIG_INVALID', `invalid configuration in ${source}:\n${lines.join('\n')}`);
    this.problems = problems;
  }
}
