import { pseudonymousId, pseudonymousIds } from './pseudonym';

// Expected values from Python's hmac module: hmac.new(key, id.encode(), hashlib.sha256).hexdigest().
const KEY = 'k'.repeat(32);

it('is HMAC-SHA-256 of the UTF-8 id under the key, as hex', () => {
  expect(pseudonymousId('alice@example.com', KEY)).toBe('0d8b3da1ccc85d32dd2c1a1863a4bd48217a82e7eeab7033dd57fe32f560c133');
  expect(pseudonymousId('zoë', KEY)).toBe('153dc1d9fb43aeaaab0a1e08b8454e140f2586c10e828c55f783be502f3b4f77');
});

it('differs under another key, and is the id itself without one', () => {
  expect(pseudonymousId('alice@example.com', 'j'.repeat(32))).toBe('58408001713a66f7652e1b9f641509b7aaa388a221edfdc4db064213cdc5884e');
  expect(pseudonymousId('alice@example.com', undefined)).toBe('alice@example.com');
  expect(pseudonymousIds(['a', 'b'], undefined)).toEqual(['a', 'b']);
  expect(pseudonymousIds(['zoë'], KEY)).toEqual([pseudonymousId('zoë', KEY)]);
});
