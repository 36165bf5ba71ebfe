// Message-level protection on the memory transport: payment requests are encrypted with
// AES-256-GCM (with a key rotation in the middle) and signed with Ed25519, so a broker operator or
// anyone on the network can neither read nor alter them. A tampered message, one sealed with a
// key the consumer does not hold and one signed by a stranger are dead-lettered with the reason;
// the handler never sees them. Swap `memory()` for `kafka({ brokers })` and nothing else changes.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Router, deadLetter, json, memory, type Logger, type OutgoingMessage } from 'switchyard';
import { encrypted, sign, verify } from 'switchyard/security';

interface PaymentRequested {
  orderId: string;
  card: string;
  amount: number;
}
const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m) => console.error(m) };

// #region keys
// From a secret store in production. Encryption keys are shared by producers and consumers of the
// topic; the signing key pair is billing's: it keeps the private half, consumers get the public one.
const pay1 = randomBytes(32);
const pay2 = randomBytes(32);
const billing = generateKeyPairSync('ed25519');
// #endregion keys

// #region produce
const bus = memory();
const before = encrypted(json<PaymentRequested>(), { keyring: { current: 'pay-1', keys: { 'pay-1': pay1 } } });
// Rotation: add the new key, make it current; the old one stays until its messages are gone.
const payments = encrypted(json<PaymentRequested>(), { keyring: { current: 'pay-2', keys: { 'pay-1': pay1, 'pay-2': pay2 } } });
const signed = sign({ keyId: 'billing-1', key: billing.privateKey });

// The payload is sealed for its topic and id: moved to another topic, or re-sent under another id,
// it no longer decrypts.
const request = (codec: typeof payments, orderId: string, amount: number): OutgoingMessage =>
  signed('payments.requested', codec.encode({ orderId, card: '4111 1111 1111 1111', amount }, { topic: 'payments.requested', key: orderId, id: `pay-${orderId}` }));
// #endregion produce

// #region consume
let charged = 0;
const router = new Router({ logger });
// deadLetter() outside verify(): a message that fails verification or decryption is a permanent
// error, dead-lettered at once with the reason, and the handler never runs for it.
router.use(deadLetter());
router.handle(
  'charge',
  {
    from: bus,
    topic: 'payments.requested',
    group: 'payments',
    codec: payments,
    use: [verify({ keys: { 'billing-1': billing.publicKey }, maxAgeMs: 24 * 3_600_000 })],
  },
  async (msg) => {
    charged++;
    console.log(`charged ${msg.payload.amount.toFixed(2)} for ${msg.payload.orderId} (sealed with ${msg.headers['x-switchyard-enc-key']})`);
    done();
  },
);
// #endregion consume

let dead = 0;
const controller = new AbortController();
function done(): void {
  if (charged === 2 && dead === 3) controller.abort();
}
router.handle('audit-dead-letters', { from: bus, topic: 'payments.requested.dlq', group: 'audit' }, async (msg) => {
  console.log(`dead letter ${msg.id}: ${msg.headers['x-error']}`);
  dead++;
  done();
});
await router.start();
const running = router.run({ signal: controller.signal, processSignals: [] });

const old = request(before, 'o-1', 19.99); // sealed before the rotation
const fresh = request(payments, 'o-2', 42.5);
console.log(`on the wire: ${Buffer.from(fresh.payload).includes('4111') ? 'card number VISIBLE' : 'ciphertext only'}, headers ${Object.keys(fresh.headers!).filter((h) => h.startsWith('x-switchyard')).join(', ')}`);

const tampered = request(payments, 'o-3', 10);
const bytes = Uint8Array.from(tampered.payload);
bytes[bytes.length - 20]! ^= 1; // one bit of ciphertext flipped in transit...
const resigned = signed('payments.requested', { ...tampered, payload: bytes }); // ...by someone who even holds billing's key

const unknownKey = encrypted(json<PaymentRequested>(), { keyring: { current: 'pay-9', keys: { 'pay-9': randomBytes(32) } } });
const stranger = sign({ keyId: 'billing-1', key: generateKeyPairSync('ed25519').privateKey });

await bus.publish('payments.requested', [
  old,
  fresh,
  resigned,
  request(unknownKey, 'o-4', 5),
  stranger('payments.requested', payments.encode({ orderId: 'o-5', card: '4000 0000 0000 0002', amount: 1_000 }, { topic: 'payments.requested', id: 'pay-o-5' })),
]);
await running;
console.log(`security: ${charged} charged, ${dead} dead-lettered`);
