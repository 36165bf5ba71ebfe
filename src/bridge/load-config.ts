import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import type { BridgeConfig } from './config-schema.ts';
import { parseBridgeConfig } from './parse-config.ts';
import { locateSecrets } from './redact-problems.ts';
import type { SecretAt } from './substitute-env.ts';

/** A configuration read from a file, and the directory its relative paths are resolved from. */
export interface LoadedConfig {
  config: BridgeConfig;
  baseDir: string;
  /** Values taken from the environment (often secrets): hide them in messages with `redact`. */
  secrets: string[];
  /**
   * The same values with where in `config` each is: hide them, and parts of them in problems
   * about those places, with `redactProblems` (a check quoting one broker of a list, or the first
   * characters of a long value, shows only part of one).
   */
  secretsAt: SecretAt[];
}

/**
 * Reads a bridge configuration file (`.yaml`, `.yml` or `.json`), substitutes `${ENV}`
 * references from `env` (default `process.env`) and validates it; throws one ConfigError naming
 * every problem, each prefixed by the file name. Relative paths in it (modules, `.proto` files)
 * are resolved from the file's directory.
 *
 * @example
 * ```ts
 * const { config, baseDir } = await loadBridgeConfig('bridge.yaml');
 * const b = await bridge(config, { baseDir });
 * ```
 */
export async function loadBridgeConfig(file: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<LoadedConfig> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new ConfigError(`${file}: cannot read the configuration: ${(error as Error).message}`, { cause: error });
  }
  const ext = extname(file).toLowerCase();
  const result = parseBridgeConfig(bytes, { format: ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : 'auto', env });
  if (!result.ok) throw new ConfigError(result.problems.map((p) => `${file}: ${p}`));
  const secrets = result.secrets ?? [];
  return { config: result.config, baseDir: dirname(resolve(file)), secrets, secretsAt: locateSecrets(result.config, secrets) };
}
