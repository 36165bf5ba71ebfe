import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import type { Decider } from './decider.ts';
import type { DomainEvent } from './event-store.ts';
import { DeciderSpecification } from './specification.ts';

class Overdrawn extends Error {}
type Moved = DomainEvent<'Moved', { by: number }>;
const wallet: Decider<number, { take: number }, Moved> = {
  initialState: () => 10,
  decide: async (command, balance) => {
    if (command.take > balance) throw new Overdrawn(`balance ${balance} is below ${command.take}`);
    return command.take === 0 ? [] : { type: 'Moved', data: { by: -command.take } };
  },
  evolve: (balance, event) => balance + event.data.by,
};
const spec = DeciderSpecification.for(wallet);

describe('DeciderSpecification', () => {
  it('passes when the command produces exactly the expected events (single, array or none; sync or async decide)', async () => {
    await spec.given([]).when({ take: 4 }).then([{ type: 'Moved', data: { by: -4 } }]);
    await spec.given([{ type: 'Moved', data: { by: -4 } }]).when({ take: 0 }).then([]);
  });

  it('matches rejections by class, message substring, RegExp or predicate, and resolves to the error', async () => {
    const when = spec.given([{ type: 'Moved', data: { by: -8 } }]).when({ take: 3 });
    await when.thenThrows(Overdrawn);
    await when.thenThrows('below 3');
    await when.thenThrows(/balance 2/);
    expect((await when.thenThrows((e) => e instanceof Overdrawn)).message).toBe('balance 2 is below 3');
  });

  it('fails with an AssertionError when events differ, when the command is rejected, or when it is not', async () => {
    await expect(spec.given([]).when({ take: 4 }).then([{ type: 'Moved', data: { by: -5 } }])).rejects.toBeInstanceOf(AssertionError);
    await expect(spec.given([]).when({ take: 40 }).then([])).rejects.toThrow(/rejected: balance 10 is below 40/);
    await expect(spec.given([]).when({ take: 1 }).thenThrows()).rejects.toThrow(/expected the command to be rejected/);
    await expect(spec.given([]).when({ take: 40 }).thenThrows(TypeError)).rejects.toThrow(/not as expected \(an instance of TypeError\)/);
  });
});

it('awaiting when(...) itself fails with a message saying how to end the specification', async () => {
  const when: unknown = spec.given([]).when({ take: 1 });
  await expect((async () => await when)()).rejects.toThrow(/end with \.then/);
});
