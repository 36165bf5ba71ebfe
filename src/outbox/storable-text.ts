import { ConfigError } from '../core/errors.ts';
import type { NormalizedMessage } from '../core/message.ts';

/**
 * Why `text` cannot be stored as it is in a PostgreSQL text or jsonb column, or `undefined` when
 * it can: PostgreSQL refuses the NUL character, and a lone UTF-16 surrogate is no character at all
 * (as text it would turn into U+FFFD, as jsonb it is refused).
 */
function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains the NUL character (\\u0000), which PostgreSQL cannot store';
  if (!text.isWellFormed()) return 'contains a lone UTF-16 surrogate, which is not text PostgreSQL can store';
  return undefined;
}

/**
 * Refuses messages whose id, key or headers the outbox table cannot hold, naming each, before any
 * query: PostgreSQL would fail the INSERT and with it the caller's whole transaction (their
 * business writes included), with a message that names neither the message nor the field.
 */
export function assertStorable(topic: string, messages: readonly NormalizedMessage[]): void {
  const problems: string[] = [];
  messages.forEach((m, i) => {
    const at = messages.length === 1 ? `outbox: message to "${topic}"` : `outbox: message ${i} to "${topic}"`;
    const check = (what: string, text: string): void => {
      const why = unstorable(text);
      if (why) problems.push(`${at}: ${what} ${why}; remove or encode it (put binary data in the payload)`);
    };
    check('id', m.id);
    check('key', m.key);
    for (const [name, value] of Object.entries(m.headers)) {
      check(`header name ${JSON.stringify(name)}`, name);
      check(`header ${JSON.stringify(name)}`, value);
    }
  });
  ConfigError.throwIfAny(problems);
}
