import { ConfigError } from '../core/errors.ts';

/** An event as an upcaster sees it: its type and decoded data at one schema version. */
export interface UpcastInput {
  type: string;
  data: unknown;
}

/**
 * Turns data written with schema version `n` of a type into version `n + 1`. May rename the
 * type (return another `type`); the chain then continues with that type's upcasters from
 * version `n + 1`.
 */
export type Upcaster = (event: UpcastInput) => UpcastInput;

/**
 * Upcasters per event type, keyed by the schema version they read: `{ ItemAdded: { 1: v1ToV2 } }`
 * upgrades version-1 `ItemAdded` data to version 2, which makes 2 the type's current version.
 */
export type UpcasterMap = Record<string, Record<number, Upcaster>>;

/** Applies upcasters on read and says which schema version new events are written with. */
export interface Upcasting {
  /** The schema version new events of `type` are written with: 1 + the highest upcaster's version, or 1. */
  currentVersion(type: string): number;
  /** Brings data written at `schemaVersion` up to the current version. */
  upcast(type: string, schemaVersion: number, data: unknown): UpcastInput;
  /**
   * The stored types that may read as another type (those with upcasters, which may rename). A
   * read filtered by type asks the backend for these as well and keeps what matches once
   * upcast. Absent: any type may be renamed, so such a read filters every event after upcasting.
   */
  readonly renamingTypes?: readonly string[];
}

/**
 * Event type versions with upcaster functions, applied when events are read — stored events
 * are never rewritten.
 *
 * @example
 * ```ts
 * // v1 of ItemAdded had `price` in units; v2 has `priceCents`.
 * const upcasters = defineUpcasters({
 *   ItemAdded: { 1: ({ type, data }) => ({ type, data: { ...(data as V1), priceCents: Math.round((data as V1).price * 100) } }) },
 * });
 * const store = memoryEventStore({ upcasters });
 * ```
 */
export function defineUpcasters(map: UpcasterMap): Upcasting {
  const problems: string[] = [];
  const current = new Map<string, number>();
  for (const [type, steps] of Object.entries(map)) {
    const versions = Object.keys(steps).map(Number);
    for (const v of versions) {
      if (!Number.isInteger(v) || v < 1) problems.push(`upcaster for "${type}": version keys must be integers ≥ 1, got "${v}"`);
      if (typeof steps[v] !== 'function') problems.push(`upcaster "${type}" v${v} must be a function`);
    }
    current.set(type, versions.length === 0 ? 1 : Math.max(...versions) + 1);
  }
  ConfigError.throwIfAny(problems);
  return {
    renamingTypes: Object.keys(map),
    currentVersion: (type) => current.get(type) ?? 1,
    upcast(type, schemaVersion, data) {
      let event: UpcastInput = { type, data };
      let version = schemaVersion;
      // Bounded by the number of upcasters, so a rename cycle cannot loop forever.
      for (let guard = 0; guard < 10_000; guard++) {
        const step = map[event.type]?.[version];
        if (!step) return event;
        event = step(event);
        version++;
      }
      throw new ConfigError(`upcasters for "${type}" from v${schemaVersion} do not terminate (a rename cycle?)`);
    },
  };
}

/**
 * No upcasters: every type is at version 1.
 *
 * @example
 * ```ts
 * const store = createEventStore(storage, { upcasters: noUpcasting }); // the default
 * ```
 */
export const noUpcasting: Upcasting = { renamingTypes: [], currentVersion: () => 1, upcast: (type, _v, data) => ({ type, data }) };
