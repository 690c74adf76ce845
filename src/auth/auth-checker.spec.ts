import { allowedRoles, rolesInWords } from './auth-checker';

it('lets a server key in wherever a client key may go, and admins everywhere', () => {
  expect(allowedRoles(['client'])).toEqual(['client', 'server', 'admin']);
  expect(allowedRoles(['client', 'analyst'])).toEqual(['client', 'server', 'analyst', 'admin']);
  expect(allowedRoles(['server', 'analyst'])).toEqual(['server', 'analyst', 'admin']);
  expect(allowedRoles(['analyst'])).toEqual(['analyst', 'admin']);
  expect(rolesInWords(allowedRoles(['server', 'analyst']))).toBe('a server, analyst or admin key');
});

it('names the roles that may call a field as a reader would say it', () => {
  expect(rolesInWords(['admin', 'admin'])).toBe('an admin key');
  expect(rolesInWords(['analyst', 'admin'])).toBe('an analyst or admin key');
  expect(rolesInWords(['client', 'analyst', 'admin'])).toBe('a client, analyst or admin key');
});
