import { rolesInWords } from './auth-checker';

it('names the roles that may call a field as a reader would say it', () => {
  expect(rolesInWords(['admin', 'admin'])).toBe('an admin key');
  expect(rolesInWords(['analyst', 'admin'])).toBe('an analyst or admin key');
  expect(rolesInWords(['client', 'analyst', 'admin'])).toBe('a client, analyst or admin key');
});
